package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/schemas"
)

const key = "release/board/prod/0190c0de-run/canary"

func TestLaunchTagsAndSpreadsInstancesOverSubnets(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 3})
	require.NoError(t, err)
	require.Len(t, out, 3)
	subnets := map[string]int{}
	for _, in := range out {
		require.Equal(t, "v2", in.Version)
		require.Equal(t, key, in.LaunchKey)
		require.False(t, in.Attached, "a new instance takes no traffic before Attach")
		require.Regexp(t, `^10\.0\.\d+\.\d+:8080$`, in.Address)
		inst, ok := w.cloud.Instance(in.ID)
		require.True(t, ok)
		require.Equal(t, "ami-0000000000000v2a", inst.ImageID, "the release's AMI replaces the template's")
		require.Equal(t, map[string]string{
			"Name": "board-prod-v2", awsfleet.TagService: "board", awsfleet.TagEnvironment: "prod",
			awsfleet.TagVersion: "v2", awsfleet.TagReleaseKey: key,
		}, inst.Tags)
		require.Len(t, inst.ClientToken, 64, "EC2 allows 64 characters: the key is hashed")
		subnets[inst.SubnetID]++
	}
	require.Equal(t, map[string]int{"subnet-0aaa": 2, "subnet-0bbb": 1}, subnets)

	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.ElementsMatch(t, ids(out), ids(st.Instances))
}

func TestLaunchRetryReturnsTheSameInstances(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	req := fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 2}

	// The answer to the first RunInstances is lost: the SDK retries with the same
	// client token and EC2 answers with the instances it already started.
	w.cloud.LoseResponse("ec2:RunInstances")
	first, err := f.Launch(ctxT(t), req)
	require.NoError(t, err)
	require.Len(t, first, 2)

	// A worker that crashed after launching retries the activity: same instances.
	second, err := w.fleet(t).Launch(ctxT(t), req)
	require.NoError(t, err)
	require.Equal(t, ids(first), ids(second))
	require.Len(t, w.cloud.Instances(), 2, "no retry doubled the fleet")
	require.Equal(t, 5, count(w.cloud.Calls(), "ec2:RunInstances"), "one call per subnet, the lost answer retried, then the retried activity's two")

	// Another step of the release is another key: new instances.
	third, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: "release/board/prod/0190c0de-run/batch-1", Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NotContains(t, ids(first), third[0].ID)
}

func TestLaunchKeyReusedForAnotherLaunchIsRefused(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	_, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	_, err = f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v3", Image: "ami-0000000000000v3a", Count: 1})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "IdempotentParameterMismatch: no retry can fix it")
}

func TestWaitHealthyWaitsForRunningAndStatusChecks(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 2})
	require.NoError(t, err)
	ctx, progress := counting(ctxT(t))
	require.NoError(t, f.WaitHealthy(ctx, ids(out)))
	for _, id := range ids(out) {
		inst, _ := w.cloud.Instance(id)
		require.Equal(t, "running", inst.State)
		require.Equal(t, "ok", inst.Status)
	}
	require.Positive(t, progress.Load(), "waits report progress so the activity heartbeats")
	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	for _, in := range st.Instances {
		require.True(t, in.Healthy)
		require.False(t, in.Attached)
	}
}

func TestWaitHealthyFailsOnAnInstanceThatDied(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	w.cloud.Crash(out[0].ID)
	err = f.WaitHealthy(ctxT(t), ids(out))
	require.ErrorContains(t, err, out[0].ID+" is terminated")
}

func TestAttachRegistersAndReturnsOnceHealthy(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(2, "v1")
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(out)))
	require.Empty(t, w.cloud.TargetState(blueTG, out[0].ID), "healthy but not yet in service")

	require.NoError(t, f.Attach(ctxT(t), ids(out)))
	require.Equal(t, "healthy", w.cloud.TargetState(blueTG, out[0].ID), "Attach returns once the load balancer sends it traffic")

	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Len(t, st.Instances, 3)
	for _, in := range st.Instances {
		require.True(t, in.Attached, in.ID)
		require.True(t, in.Healthy, in.ID)
	}
	require.Equal(t, map[string]int{"v1": 2, "v2": 1}, st.ByVersion())
	require.ElementsMatch(t, append(old, out[0].ID), w.cloud.Targets(blueTG))

	// Attaching again registers nothing new.
	before := count(w.cloud.Calls(), "elasticloadbalancing:RegisterTargets")
	require.NoError(t, f.Attach(ctxT(t), ids(out)))
	require.Equal(t, before, count(w.cloud.Calls(), "elasticloadbalancing:RegisterTargets"))
}

func TestAttachWaitsWhileTheTargetIsUnhealthy(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(out)))
	w.cloud.SetHealthy(out[0].ID, false)
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	err = f.Attach(ctx, ids(out))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, out[0].ID+" unhealthy in board-blue (Target.FailedHealthChecks)")
}

func TestAttachRefusesAnUnknownInstance(t *testing.T) {
	w := newWorld(t)
	err := w.fleet(t).Attach(ctxT(t), []string{"i-0000000000000dead"})
	require.ErrorIs(t, err, fleet.ErrNotFound)
}

func TestDetachDrainsAndWaitDrainedReturnsWhenTheTargetsAreGone(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(2, "v1")
	f := w.fleet(t)
	require.NoError(t, f.Detach(ctxT(t), old[:1]))
	require.Equal(t, "draining", w.cloud.TargetState(blueTG, old[0]))

	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	in, _ := st.Find(old[0])
	require.False(t, in.Attached)
	require.True(t, in.Draining)
	require.Equal(t, 1, in.Connections, "AWS does not count connections: a draining target holds one")

	ctx, progress := counting(ctxT(t))
	require.NoError(t, f.WaitDrained(ctx, old[:1]))
	require.Empty(t, w.cloud.TargetState(blueTG, old[0]), "deregistered once the delay passed")
	require.Positive(t, progress.Load())
	require.Equal(t, "healthy", w.cloud.TargetState(blueTG, old[1]), "the other one still serves")

	// Draining an instance that is still in service is a mistake, said at once.
	err = f.WaitDrained(ctxT(t), old[1:])
	require.ErrorContains(t, err, "detach it before waiting")
}

func TestWaitDrainedIsCappedByItsContext(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(1, "v1")
	f := w.fleet(t)
	require.NoError(t, f.Detach(ctxT(t), old))
	w.cloud.SetDrainSteps(blueTG, 1_000_000) // a deregistration delay far longer than the drain timeout
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	err := f.WaitDrained(ctx, old)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, old[0]+" in board-blue")
}

func TestSetWeightsShiftsTheCanaryShareThroughTheListenerRule(t *testing.T) {
	w := newWorld(t)
	w.cloud.AddTargetGroup(canaryTG)
	w.cloud.AddRule(ruleARN, blueTG)
	w.spec.ListenerRuleArn, w.spec.CanaryTargetGroup = ruleARN, canaryTG
	old := w.oldFleet(2, "v1")
	f := w.fleet(t)
	canary, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(canary)))
	require.NoError(t, f.Attach(ctxT(t), ids(canary)))

	require.NoError(t, f.SetWeights(ctxT(t), map[string]int{"v2": 10, "v1": 90}))
	require.Equal(t, map[string]int{blueTG: 90, canaryTG: 10}, w.cloud.RuleWeights(ruleARN))
	require.True(t, w.cloud.RuleSticky(ruleARN), "the rule's stickiness is kept")
	require.Equal(t, "healthy", w.cloud.TargetState(canaryTG, canary[0].ID), "healthy in the canary group before the rule sends it traffic")
	require.Equal(t, "draining", w.cloud.TargetState(blueTG, canary[0].ID), "and out of the stable group")
	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v1": 90, "v2": 10}, st.Weights)
	in, _ := st.Find(canary[0].ID)
	require.True(t, in.Attached)

	// Another instance of the canary's version joins the canary group.
	more, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key + "-2", Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(more)))
	require.NoError(t, f.Attach(ctxT(t), ids(more)))
	require.Equal(t, "healthy", w.cloud.TargetState(canaryTG, more[0].ID))
	require.Empty(t, w.cloud.TargetState(blueTG, more[0].ID))

	// All traffic to v2: it moves to the stable group, and v1, left out of the
	// weights, goes to the canary group at weight 0 — registered, sent nothing.
	require.NoError(t, f.SetWeights(ctxT(t), map[string]int{"v2": 100}))
	require.Equal(t, map[string]int{blueTG: 100, canaryTG: 0}, w.cloud.RuleWeights(ruleARN))
	require.Equal(t, "healthy", w.cloud.TargetState(blueTG, canary[0].ID))
	require.Equal(t, "healthy", w.cloud.TargetState(canaryTG, old[0]))
	st, err = f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 100}, st.Weights)

	err = f.SetWeights(ctxT(t), map[string]int{"v3": 50, "v2": 50})
	require.ErrorIs(t, err, fleet.ErrNotFound, "a version with no instance cannot take traffic")
}

func TestSetWeightsNeedsAWeightedRule(t *testing.T) {
	w := newWorld(t)
	err := w.fleet(t).SetWeights(ctxT(t), map[string]int{"v2": 10, "v1": 90})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "listenerRuleArn")
}

func TestTerminateRefusesInstancesZerodownDidNotLaunch(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(1, "v1")
	stranger := w.cloud.AddInstance("ami-0000000000000bad", map[string]string{awsfleet.TagService: "billing", awsfleet.TagEnvironment: "prod"})
	untagged := w.cloud.AddInstance("ami-0000000000000bad", nil)
	f := w.fleet(t)

	err := f.Terminate(ctxT(t), []string{old[0], stranger, untagged})
	var nm *awsfleet.NotManagedError
	require.ErrorAs(t, err, &nm)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "no retry can fix it")
	require.ErrorContains(t, err, stranger+" (zerodown:service=billing")
	require.ErrorContains(t, err, untagged+" (no zerodown:service tag)")
	for _, id := range []string{old[0], stranger, untagged} {
		in, _ := w.cloud.Instance(id)
		require.Equal(t, "running", in.State, "a refused call terminates nothing")
	}

	require.NoError(t, f.Terminate(ctxT(t), old))
	in, _ := w.cloud.Instance(old[0])
	require.Equal(t, "shutting-down", in.State)
	require.NoError(t, f.Terminate(ctxT(t), old), "terminating twice is fine")
	require.NoError(t, f.Terminate(ctxT(t), []string{"i-0000000000000gone"}), "an instance already gone is fine")
}

func TestDescribeFollowsEveryPage(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(5, "v1")
	w.cloud.AddInstance("ami-0000000000000bad", map[string]string{awsfleet.TagService: "board", awsfleet.TagEnvironment: "staging"})
	st, err := w.fleet(t).Describe(ctxT(t))
	require.NoError(t, err)
	require.ElementsMatch(t, old, ids(st.Instances), "five instances over three pages of two; staging's is not prod's")
	require.GreaterOrEqual(t, count(w.cloud.Calls(), "ec2:DescribeInstances"), 3)
	for _, in := range st.Instances {
		require.True(t, in.Attached && in.Healthy)
		require.Equal(t, "v1", in.Version)
	}
}

func TestFactoryRefusesIncompleteTargets(t *testing.T) {
	p := awsfleet.NewProvider(awsfleet.Options{ConfigOptions: testConfig()})
	base := schemas.AWSSpec{Region: region, LaunchTemplate: lt, TargetGroups: []string{blueTG}, Service: "board", Environment: "prod"}
	for name, mutate := range map[string]func(*schemas.AWSSpec){
		"no service":            func(s *schemas.AWSSpec) { s.Service = "" },
		"no target groups":      func(s *schemas.AWSSpec) { s.TargetGroups = nil },
		"rule without canary":   func(s *schemas.AWSSpec) { s.ListenerRuleArn = ruleARN },
		"endpoint not a URL":    func(s *schemas.AWSSpec) { s.Endpoint = "localhost:4566" },
		"no launch template":    func(s *schemas.AWSSpec) { s.LaunchTemplate = "" },
		"canary without a rule": func(s *schemas.AWSSpec) { s.CanaryTargetGroup = canaryTG },
	} {
		s := base
		mutate(&s)
		_, err := p.Factory(schemas.Target{Provider: schemas.ProviderAWS, Instances: 1, AWS: &s})
		require.ErrorIs(t, err, fleet.ErrInvalidConfig, name)
	}
	_, err := p.Factory(schemas.Target{Provider: schemas.ProviderAWS, Instances: 1})
	require.True(t, errors.Is(err, fleet.ErrInvalidConfig))
}
