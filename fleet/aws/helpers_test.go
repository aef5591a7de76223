package aws_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/fleet/aws/awstest"
	"github.com/zerodown/zerodown/schemas"
)

const (
	region   = "eu-west-1"
	lt       = "lt-0123456789abcdef0"
	baseAMI  = "ami-0ba5e00000000000a"
	blueTG   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/board-blue/0123456789abcdef"
	canaryTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/board-canary/fedcba9876543210"
	ruleARN  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/board/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
	asgName  = "board-prod"
)

// called gathers every AWS operation the tests made, for the IAM policy check in
// TestMain.
var called = struct {
	sync.Mutex
	ops map[string]bool
}{ops: map[string]bool{}}

// world is a fake AWS account — awstest stands in for AWS, which cannot run here — and
// a provider that reaches it through the real SDK: serialisation, waiters, paginators
// and retries are the SDK's own.
type world struct {
	cloud    *awstest.Cloud
	spec     *schemas.AWSSpec
	provider *awsfleet.Provider
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cloud := awstest.New()
	url := cloud.Start(t)
	cloud.AddLaunchTemplate(lt, "board-web", baseAMI)
	cloud.AddTargetGroup(blueTG)
	t.Cleanup(func() {
		called.Lock()
		defer called.Unlock()
		for _, op := range cloud.Calls() {
			called.ops[op] = true
		}
	})
	return &world{
		cloud: cloud,
		spec: &schemas.AWSSpec{
			Region: region, LaunchTemplate: lt, LaunchTemplateVersion: "$Default",
			TargetGroups: []string{blueTG}, Subnets: []string{"subnet-0aaa", "subnet-0bbb"},
			Service: "board", Environment: "prod", Port: 8080, Endpoint: url,
		},
		provider: awsfleet.NewProvider(awsfleet.Options{ConfigOptions: testConfig(), Poll: 2 * time.Millisecond}),
	}
}

// testConfig keeps the SDK away from the machine's AWS configuration and makes its
// retries quick; everything else is the standard chain.
func testConfig() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDZERODOWNTEST", "not-a-secret", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(func() sdkaws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 5 * time.Millisecond })
		}),
	}
}

func (w *world) target() schemas.Target {
	return schemas.Target{Provider: schemas.ProviderAWS, Instances: 2, AWS: w.spec}
}

func (w *world) fleet(t *testing.T) *awsfleet.Fleet {
	t.Helper()
	f, err := w.provider.Fleet(w.target())
	require.NoError(t, err)
	return f
}

// oldFleet adds n running instances of version, tagged as zerodown tags them and
// healthy in the blue target group: the fleet a release starts from.
func (w *world) oldFleet(n int, version string) []string {
	var ids []string
	for range n {
		id := w.cloud.AddInstance("ami-0001d0000000000001", map[string]string{
			awsfleet.TagService: "board", awsfleet.TagEnvironment: "prod", awsfleet.TagVersion: version,
		})
		w.cloud.Register(blueTG, id)
		ids = append(ids, id)
	}
	return ids
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func contextWithTimeout(t *testing.T, ms int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctxT(t), time.Duration(ms)*time.Millisecond)
}

// counting returns a context whose progress reports are counted.
func counting(ctx context.Context) (context.Context, *atomic.Int64) {
	var n atomic.Int64
	return fleet.WithProgress(ctx, func(any) { n.Add(1) }), &n
}

func ids(insts []fleet.Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

func count(calls []string, op string) int {
	n := 0
	for _, c := range calls {
		if c == op {
			n++
		}
	}
	return n
}
