package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/aws/awstest"
	"github.com/zerodown/zerodown/internal/cli"
)

// awsAccount is a fake AWS account with three instances of board/prod v1 behind a
// target group, the standard credential chain pointed at it through the environment,
// and a spec of that fleet. awstest stands in for AWS, which cannot run here.
func awsAccount(t *testing.T) (cloud *awstest.Cloud, spec string) {
	cloud = awstest.New()
	url := cloud.Start(t)
	tg := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/board-prod/6d0ecf831eec9f09"
	cloud.AddTargetGroup(tg)
	for range 3 {
		id := cloud.AddInstance("ami-0001d0000000000001", map[string]string{"zerodown:service": "board", "zerodown:environment": "prod", "zerodown:version": "v1"})
		cloud.Register(tg, id)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDZERODOWNTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	spec = filepath.Join(t.TempDir(), "board.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`service: board
environment: prod
target:
  provider: aws
  instances: 3
  aws:
    region: eu-west-1
    launchTemplate: lt-0abc1234def567890
    targetGroups: [`+tg+`]
    endpoint: `+url+`
canary: { instances: 1, soak: 1h }
promote: { batch: "2" }
`), 0o644))
	return cloud, spec
}

// `zerodown plan` on an aws spec says whose account and which region it reads, then
// describes the fleet through the worker's own aws provider and prints the API calls
// the release would make.
func TestPlanPrintsTheAWSCalls(t *testing.T) {
	cloud, spec := awsAccount(t)
	r := zerodown(t, nil, "plan", "-f", spec, "--version", "v2")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Regexp(t, `^aws: reading account 123456789012 as arn:aws:iam::123456789012:user/zerodown-test in eu-west-1 through http://127\.0\.0\.1:\d+\n$`, r.stderr,
		"whose account and which region, and nothing else: the fleet was described")
	calls := cloud.Calls()
	require.Equal(t, "sts:GetCallerIdentity", calls[0], "the account is named before anything of it is read")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Equal(t, "plan: board/prod v1 -> v2 on aws, 3 old instance(s) serving, 3 wanted", lines[0])
	require.Contains(t, r.stdout, "aws: API calls in eu-west-1, on instances tagged zerodown:service=board zerodown:environment=prod:\n")
	require.Contains(t, r.stdout, "  canary:    launch 1\n")
	require.Contains(t, r.stdout, "  batch 1/1: launch 2, then detach 3 old\n")
	require.Contains(t, r.stdout, "ec2:TerminateInstances (3 old)")
	require.NotContains(t, r.stdout, "autoscaling:", "no Auto Scaling group, nothing to hold")
	for _, op := range calls[1:] {
		require.True(t, strings.Contains(op, ":Describe"), "plan only reads: %s", op)
	}
}

// --offline calls no API at all: the plan assumes target.instances old instances.
func TestPlanOfflineCallsNoAPI(t *testing.T) {
	cloud, spec := awsAccount(t)
	r := zerodown(t, nil, "plan", "-f", spec, "--version", "v2", "--offline")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Empty(t, cloud.Calls())
	require.Equal(t, "note: --offline: nothing was read; assuming 3 old instance(s)\n", r.stderr)
	require.Contains(t, r.stdout, "3 old instance(s) serving, 3 wanted")
	require.Contains(t, r.stdout, "aws: API calls in eu-west-1, on instances tagged zerodown:service=board zerodown:environment=prod:\n")
	require.Contains(t, r.stdout, "  batch 1/1: launch 2, then detach 3 old\n")
}

// Credentials that cannot say whose they are read nothing.
func TestPlanReadsNothingWhenTheAccountIsUnknown(t *testing.T) {
	cloud, spec := awsAccount(t)
	cloud.Fail("sts:GetCallerIdentity", "InvalidClientTokenId", "The security token included in the request is invalid.")
	r := zerodown(t, nil, "plan", "-f", spec, "--version", "v2")
	require.Equal(t, cli.ExitSucceeded, r.code, "the plan is printed all the same")
	require.Contains(t, r.stderr, "note: cannot describe the aws fleet (cannot tell which AWS account the credentials reach, so nothing was read: sts:GetCallerIdentity: ")
	require.Contains(t, r.stderr, "InvalidClientTokenId")
	require.Contains(t, r.stderr, "assuming 3 old instance(s)")
	require.Equal(t, []string{"sts:GetCallerIdentity"}, cloud.Calls(), "no read API was called")
}
