package aws_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
)

// An endpoint that ignores the instance-id filter answers with every instance, all
// tagged for this very fleet: the tags alone cannot tell them apart, only the IDs asked
// can. Terminating one instance must not terminate six.
func TestTerminateRefusesAnAnswerHoldingInstancesItDidNotAskFor(t *testing.T) {
	w := newWorld(t)
	six := w.oldFleet(6, "v1")
	f := w.fleet(t)
	w.cloud.IgnoreFilters("ec2:DescribeInstances")

	err := f.Terminate(ctxT(t), six[:1])
	var ua *awsfleet.UnexpectedAnswerError
	require.ErrorAs(t, err, &ua)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "no retry can fix the endpoint")
	require.ErrorContains(t, err, "refusing EC2 DescribeInstances's answer, which holds 5 instance(s) that were not asked for")
	for _, id := range six[1:] {
		require.ErrorContains(t, err, id+" (instance-id is")
	}
	require.NotContains(t, err.Error(), six[0]+" (", "the instance asked for is not unexpected")
	for _, id := range six {
		in, _ := w.cloud.Instance(id)
		require.Equal(t, "running", in.State, "a refused call terminates nothing")
	}
	require.Zero(t, count(w.cloud.Calls(), "ec2:TerminateInstances"))

	// Answered as AWS answers, the same call terminates the one instance.
	w.cloud.HonourFilters()
	require.NoError(t, f.Terminate(ctxT(t), six[:1]))
	for i, id := range six {
		in, _ := w.cloud.Instance(id)
		require.Equal(t, map[bool]string{true: "shutting-down", false: "running"}[i == 0], in.State, id)
	}
}

// Describe asks by tag; an answer holding another service's instance is refused, so
// that Attach and Detach never act on it.
func TestDescribeRefusesAnInstanceTaggedForAnotherFleet(t *testing.T) {
	w := newWorld(t)
	w.oldFleet(2, "v1")
	billing := w.cloud.AddInstance("ami-0000000000000bad", map[string]string{awsfleet.TagService: "billing", awsfleet.TagEnvironment: "prod"})
	f := w.fleet(t)
	w.cloud.IgnoreFilters("ec2:DescribeInstances")

	_, err := f.Describe(ctxT(t))
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, billing+` (tag:zerodown:service is "billing", asked [board])`)

	before := count(w.cloud.Calls(), "elasticloadbalancing:DeregisterTargets")
	require.ErrorIs(t, f.Detach(ctxT(t), []string{billing}), fleet.ErrInvalidConfig)
	require.Equal(t, before, count(w.cloud.Calls(), "elasticloadbalancing:DeregisterTargets"), "nothing detached")
}

// DescribeInstanceStatus is asked by instance ID; an answer about others is refused.
func TestInstanceStatusAnswerAboutOtherInstancesIsRefused(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	stranger := w.cloud.AddInstance("ami-0000000000000bad", map[string]string{awsfleet.TagService: "billing", awsfleet.TagEnvironment: "prod"})
	w.cloud.IgnoreFilters("ec2:DescribeInstanceStatus")

	err = f.WaitHealthy(ctxT(t), ids(out))
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "refusing EC2 DescribeInstanceStatus's answer, which holds 1 instance(s) that were not asked for: "+stranger+" (not among the instance IDs asked)")
}

// Detach, like Terminate, acts only on the fleet's own instances: a shared target
// group may hold another service's.
func TestDetachRefusesAnInstanceOfAnotherFleet(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(1, "v1")
	billing := w.cloud.AddInstance("ami-0000000000000bad", map[string]string{awsfleet.TagService: "billing", awsfleet.TagEnvironment: "prod"})
	w.cloud.Register(blueTG, billing)
	f := w.fleet(t)

	err := f.Detach(ctxT(t), []string{old[0], billing})
	var nm *awsfleet.NotManagedError
	require.ErrorAs(t, err, &nm)
	require.ErrorContains(t, err, "refusing to detach "+billing+" (registered with board-blue but not an instance of board/prod)")
	require.Equal(t, "healthy", w.cloud.TargetState(blueTG, old[0]), "refused whole: nothing detached")
	require.Equal(t, "healthy", w.cloud.TargetState(blueTG, billing))
}
