package aws_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
)

// recording returns a context whose progress reports are kept.
func recording(ctx context.Context) (context.Context, func() string) {
	var mu sync.Mutex
	var all []string
	ctx = fleet.WithProgress(ctx, func(d any) {
		mu.Lock()
		defer mu.Unlock()
		all = append(all, fmt.Sprint(d))
	})
	return ctx, func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(all, "\n")
	}
}

// EC2 throttles the status checks for longer than the SDK retries one call (three
// attempts): the wait backs off and carries on, and says why it is slow meanwhile.
func TestWaitHealthyOutlastsThrottling(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 3})
	require.NoError(t, err)
	w.cloud.Throttle("ec2:DescribeInstanceStatus", 12)

	ctx, progress := recording(ctxT(t))
	require.NoError(t, f.WaitHealthy(ctx, ids(out)))
	require.Equal(t, 12, w.cloud.Throttled("ec2:DescribeInstanceStatus"), "every throttled answer was met")
	require.Contains(t, progress(), "throttled by EC2 DescribeInstanceStatus: RequestLimitExceeded: Request limit exceeded.")
}

// Errors on AWS's side (500) are retried the same way.
func TestWaitHealthyOutlastsServerErrors(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 2})
	require.NoError(t, err)
	w.cloud.ServerError("ec2:DescribeInstances", 7)

	ctx, progress := recording(ctxT(t))
	require.NoError(t, f.WaitHealthy(ctx, ids(out)))
	require.Contains(t, progress(), "server error (HTTP 500) from EC2 DescribeInstances: InternalError")
}

// When the wait's time runs out while AWS still throttles, the error blames the
// throttling, not the instances, which were never seen unhealthy.
func TestAWaitThatEndsWhileThrottledNamesTheThrottling(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 2})
	require.NoError(t, err)
	w.cloud.ThrottleFor("ec2:DescribeInstanceStatus", time.Hour)

	ctx, cancel := contextWithTimeout(t, 300)
	defer cancel()
	err = f.WaitHealthy(ctx, ids(out))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for 2 instance(s) to run and pass EC2 status checks: throttled by EC2 DescribeInstanceStatus: RequestLimitExceeded: Request limit exceeded.")
	require.NotContains(t, err.Error(), "never be healthy")
	require.NotContains(t, err.Error(), "failed their EC2 status checks")
}

// The target-health waits (WaitHealthy of registered instances, Attach) and the drain
// wait ride out throttling of DescribeTargetHealth, and name it when their time runs out.
func TestTargetWaitsOutlastThrottlingAndNameIt(t *testing.T) {
	w := newWorld(t)
	old := w.oldFleet(2, "v1")
	f := w.fleet(t)

	w.cloud.Throttle("elasticloadbalancing:DescribeTargetHealth", 12)
	require.NoError(t, f.WaitHealthy(ctxT(t), old), "registered instances wait for their targets too")
	require.Equal(t, 12, w.cloud.Throttled("elasticloadbalancing:DescribeTargetHealth"))

	require.NoError(t, f.Detach(ctxT(t), old[:1]))
	w.cloud.Throttle("elasticloadbalancing:DescribeTargetHealth", 12)
	require.NoError(t, f.WaitDrained(ctxT(t), old[:1]))
	require.Empty(t, w.cloud.TargetState(blueTG, old[0]), "drained once the throttle ended")

	require.NoError(t, f.Detach(ctxT(t), old[1:]))
	w.cloud.ThrottleFor("elasticloadbalancing:DescribeTargetHealth", time.Hour)
	ctx, cancel := contextWithTimeout(t, 300)
	defer cancel()
	err := f.WaitDrained(ctx, old[1:])
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "waiting for 1 target(s) to drain: throttled by Elastic Load Balancing v2 DescribeTargetHealth: Throttling: Rate exceeded")
}

// Real unhealthy states end the wait at once, without waiting for the time to run out.
func TestWaitHealthyFailsAtOnceOnImpairedStatusChecks(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 2})
	require.NoError(t, err)
	w.cloud.Impair(out[1].ID)

	err = f.WaitHealthy(ctxT(t), ids(out))
	require.ErrorContains(t, err, "instances failed their EC2 status checks: "+out[1].ID+" (instance check impaired, system check impaired)")
	require.NotErrorIs(t, err, context.DeadlineExceeded)
}

// Credentials the IAM policy does not allow are a configuration error at once: waiting
// would not change the policy.
func TestAWaitDeniedByIAMFailsAtOnceAsAConfigurationError(t *testing.T) {
	w := newWorld(t)
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	w.cloud.Fail("ec2:DescribeInstanceStatus", "UnauthorizedOperation", "You are not authorized to perform this operation.")

	err = f.WaitHealthy(ctxT(t), ids(out))
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "the worker's credentials may not make this call")
	require.NotErrorIs(t, err, context.DeadlineExceeded)
}
