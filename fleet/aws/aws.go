// Package aws is the fleet on Amazon Web Services: EC2 instances launched from a launch
// template and the release's AMI, registered with ELBv2 target groups, optionally inside
// an Auto Scaling group that is kept from fighting the release. Fleet implements
// fleet.Fleet and the optional fleet.Lifecycle (the Auto Scaling group) and fleet.Baker
// (AMIs with ec2-image or Packer). Like every provider it knows nothing of Temporal.
//
// Every instance zerodown launches carries the tags below; they are how the fleet finds
// its instances again after a worker crash, and how Terminate refuses instances that
// are not its own.
package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Tags zerodown puts on what it creates.
const (
	TagService     = "zerodown:service"
	TagEnvironment = "zerodown:environment"
	TagVersion     = "zerodown:version"
	// TagReleaseKey is the launch's idempotency key (release/<svc>/<env>/<run>/<step>).
	TagReleaseKey = "zerodown:release-key"
	// TagRole marks instances that are not part of the fleet (image builders).
	TagRole     = "zerodown:role"
	RoleBuilder = "builder"
	// TagBakedBy says how an image was made (ec2-image, packer).
	TagBakedBy = "zerodown:baked-by"

	// Tags on the Auto Scaling group while a release holds it (see Prepare).
	TagGroupRelease   = "zerodown:release"
	TagGroupCapacity  = "zerodown:saved-capacity"
	TagGroupSuspended = "zerodown:suspended-processes"

	// tagGroupName is set by AWS on members of an Auto Scaling group; the aws: prefix is
	// reserved, so nobody else can forge it.
	tagGroupName = "aws:autoscaling:groupName"
)

// SuspendedProcesses are the Auto Scaling processes that would fight a release: they
// launch, terminate or rebalance instances behind its back. Health checks and load
// balancer registration keep running.
var SuspendedProcesses = []string{"Launch", "Terminate", "ReplaceUnhealthy", "AZRebalance", "AlarmNotification", "ScheduledActions"}

// DefaultPoll is how often waits ask AWS for news. Instances take tens of seconds to
// boot and health checks run every 5-30s: polling faster only spends API rate.
const DefaultPoll = 5 * time.Second

// EC2API is every EC2 operation the fleet calls. The fleet reaches EC2 only through it
// (waiters and paginators included), so it is also the list the IAM policy is checked
// against.
type EC2API interface {
	RunInstances(context.Context, *ec2.RunInstancesInput, ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeInstanceStatus(context.Context, *ec2.DescribeInstanceStatusInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceStatusOutput, error)
	TerminateInstances(context.Context, *ec2.TerminateInstancesInput, ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error)
	CreateTags(context.Context, *ec2.CreateTagsInput, ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DescribeImages(context.Context, *ec2.DescribeImagesInput, ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error)
	CreateImage(context.Context, *ec2.CreateImageInput, ...func(*ec2.Options)) (*ec2.CreateImageOutput, error)
	CreateLaunchTemplateVersion(context.Context, *ec2.CreateLaunchTemplateVersionInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
}

// ELBAPI is every Elastic Load Balancing v2 operation the fleet calls.
type ELBAPI interface {
	RegisterTargets(context.Context, *elb.RegisterTargetsInput, ...func(*elb.Options)) (*elb.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elb.DeregisterTargetsInput, ...func(*elb.Options)) (*elb.DeregisterTargetsOutput, error)
	DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
	DescribeRules(context.Context, *elb.DescribeRulesInput, ...func(*elb.Options)) (*elb.DescribeRulesOutput, error)
	ModifyRule(context.Context, *elb.ModifyRuleInput, ...func(*elb.Options)) (*elb.ModifyRuleOutput, error)
}

// AutoScalingAPI is every Auto Scaling operation the fleet calls.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SuspendProcesses(context.Context, *autoscaling.SuspendProcessesInput, ...func(*autoscaling.Options)) (*autoscaling.SuspendProcessesOutput, error)
	ResumeProcesses(context.Context, *autoscaling.ResumeProcessesInput, ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error)
	AttachInstances(context.Context, *autoscaling.AttachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.AttachInstancesOutput, error)
	DetachInstances(context.Context, *autoscaling.DetachInstancesInput, ...func(*autoscaling.Options)) (*autoscaling.DetachInstancesOutput, error)
	UpdateAutoScalingGroup(context.Context, *autoscaling.UpdateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	CreateOrUpdateTags(context.Context, *autoscaling.CreateOrUpdateTagsInput, ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
	DeleteTags(context.Context, *autoscaling.DeleteTagsInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error)
}

// Options configure a Provider. The zero value uses the standard AWS configuration
// (environment, shared config and credentials files, SSO, instance or task role).
type Options struct {
	// ConfigOptions are passed to config.LoadDefaultConfig after the target's region,
	// e.g. static credentials in tests.
	ConfigOptions []func(*config.LoadOptions) error
	// APIOptions are added to the middleware stack of every client.
	APIOptions []func(*middleware.Stack) error
	// Poll is how often waits poll (DefaultPoll if zero).
	Poll time.Duration
	// Packer is the packer program for bake.method packer ("packer" on PATH if empty).
	Packer string
}

// Provider builds the fleets of AWS targets, sharing one set of clients per region and
// endpoint: loading the configuration reads files and environment, so once is enough.
type Provider struct {
	opts    Options
	mu      sync.Mutex
	clients map[string]*clients
}

type clients struct {
	ec2 EC2API
	elb ELBAPI
	asg AutoScalingAPI
	// sts only says whose the credentials are (Identity); the fleet never calls it.
	sts *sts.Client
}

// NewProvider returns a provider with the given options.
func NewProvider(opts Options) *Provider {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Packer == "" {
		opts.Packer = "packer"
	}
	return &Provider{opts: opts, clients: map[string]*clients{}}
}

// Factory builds the fleet of an AWS target; it is a fleet.Factory.
func (p *Provider) Factory(target schemas.Target) (fleet.Fleet, error) {
	return p.Fleet(target)
}

// Fleet is Factory with the concrete type, for callers that want Lifecycle and Bake.
func (p *Provider) Fleet(target schemas.Target) (*Fleet, error) {
	s := target.AWS
	if s == nil {
		return nil, fmt.Errorf("%w: target.aws is required for provider %q", fleet.ErrInvalidConfig, schemas.ProviderAWS)
	}
	if s.Region == "" || s.LaunchTemplate == "" {
		return nil, fmt.Errorf("%w: target.aws.region and target.aws.launchTemplate are required", fleet.ErrInvalidConfig)
	}
	if s.Service == "" || s.Environment == "" {
		// The tags are the fleet's identity: without them Describe would find nothing
		// and Terminate could not tell its instances from anyone else's.
		return nil, fmt.Errorf("%w: target.aws.service and target.aws.environment are empty; load the spec with schemas.Load or Parse, which fill them from service and environment", fleet.ErrInvalidConfig)
	}
	if len(s.TargetGroups) == 0 && s.AutoScalingGroup == "" {
		return nil, fmt.Errorf("%w: target.aws needs targetGroups or autoScalingGroup: without either, no instance could be attached or detached", fleet.ErrInvalidConfig)
	}
	if (s.ListenerRuleArn == "") != (s.CanaryTargetGroup == "") {
		return nil, fmt.Errorf("%w: target.aws.listenerRuleArn and canaryTargetGroup go together", fleet.ErrInvalidConfig)
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: target.aws.endpoint %q is not an http(s) URL", fleet.ErrInvalidConfig, s.Endpoint)
		}
	}
	c, err := p.clientsFor(s.Region, s.Endpoint)
	if err != nil {
		return nil, err
	}
	spec := *s
	if spec.Port == 0 {
		spec.Port = 80
	}
	if spec.LaunchTemplateVersion == "" {
		spec.LaunchTemplateVersion = "$Default"
	}
	return &Fleet{spec: spec, ec2: c.ec2, elb: c.elb, asg: c.asg, poll: p.opts.Poll, packer: p.opts.Packer}, nil
}

func (p *Provider) clientsFor(region, endpoint string) (*clients, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := region + " " + endpoint
	if c, ok := p.clients[key]; ok {
		return c, nil
	}
	opts := append([]func(*config.LoadOptions) error{config.WithRegion(region)}, p.opts.ConfigOptions...)
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: AWS configuration: %v", fleet.ErrInvalidConfig, err)
	}
	if endpoint != "" {
		// One endpoint for all three services, as emulators serve them.
		cfg.BaseEndpoint = sdkaws.String(endpoint)
	}
	cfg.APIOptions = append(cfg.APIOptions, p.opts.APIOptions...)
	c := &clients{ec2: ec2.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg), asg: autoscaling.NewFromConfig(cfg), sts: sts.NewFromConfig(cfg)}
	p.clients[key] = c
	return c, nil
}

// Fleet is one service's instances in one environment.
type Fleet struct {
	spec   schemas.AWSSpec
	ec2    EC2API
	elb    ELBAPI
	asg    AutoScalingAPI
	poll   time.Duration
	packer string
}

var (
	_ fleet.Fleet     = (*Fleet)(nil)
	_ fleet.Lifecycle = (*Fleet)(nil)
	_ fleet.Baker     = (*Fleet)(nil)
)

// New returns the fleet of spec over the given clients (tests, or callers that build
// their own clients); spec must have Service and Environment set.
func New(spec schemas.AWSSpec, e EC2API, l ELBAPI, a AutoScalingAPI, poll time.Duration) *Fleet {
	if poll <= 0 {
		poll = DefaultPoll
	}
	if spec.Port == 0 {
		spec.Port = 80
	}
	if spec.LaunchTemplateVersion == "" {
		spec.LaunchTemplateVersion = "$Default"
	}
	return &Fleet{spec: spec, ec2: e, elb: l, asg: a, poll: poll, packer: "packer"}
}

// ClientToken is the EC2 idempotency token for a launch key: EC2 allows 64 ASCII
// characters and keys are longer, so it is the key's SHA-256 in hex (exactly 64).
func ClientToken(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NotManagedError refuses to act on instances whose tags do not show that zerodown
// launched them for this fleet. It is a configuration error: no retry can fix it.
type NotManagedError struct {
	// Action is what was refused: "terminate" (the default) or "detach".
	Action               string
	Service, Environment string
	// Why maps each refused instance to what its tags say.
	Why map[string]string
}

func (e *NotManagedError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Why))
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + " (" + e.Why[id] + ")"
	}
	action := e.Action
	if action == "" {
		action = "terminate"
	}
	return fmt.Sprintf("refusing to %s %s: their tags do not show zerodown launched them for %s/%s; nothing was done", action, listed(parts), e.Service, e.Environment)
}

// Is makes the refusal non-retryable wherever fleet.ErrInvalidConfig is.
func (e *NotManagedError) Is(target error) bool { return target == fleet.ErrInvalidConfig }

// targetGroups lists every target group the fleet registers instances with.
func (f *Fleet) targetGroups() []string {
	tgs := slices.Clone(f.spec.TargetGroups)
	if f.spec.CanaryTargetGroup != "" {
		tgs = append(tgs, f.spec.CanaryTargetGroup)
	}
	return tgs
}

// stableGroup is the target group that takes the non-canary share of a weighted rule.
func (f *Fleet) stableGroup() string {
	if len(f.spec.TargetGroups) == 0 {
		return ""
	}
	return f.spec.TargetGroups[0]
}

func (f *Fleet) who() string { return f.spec.Service + "/" + f.spec.Environment }

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// during runs fn while reporting progress every poll, from this goroutine only, so
// that a heartbeating caller is never called concurrently.
func (f *Fleet) during(ctx context.Context, detail func() string, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			fleet.Progress(ctx, detail())
		}
	}
}

// maxWait is how long an SDK waiter may wait: until ctx's deadline, else a day (the
// caller's context ends it sooner).
func maxWait(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return 24 * time.Hour
}

// sleep waits one poll interval or until ctx ends.
func (f *Fleet) sleep(ctx context.Context) error {
	t := time.NewTimer(f.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
