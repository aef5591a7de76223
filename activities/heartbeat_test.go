package activities_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/internal/testharness"
)

// quiet runs for 3s without heartbeating itself: only the interceptor keeps it alive
// under a 1s heartbeat timeout. On its first attempt it records a detail and fails, so
// the second attempt shows which details the interceptor's beats left on the server.
func quiet(ctx context.Context) (string, error) {
	if activity.GetInfo(ctx).Attempt == 1 {
		activity.RecordHeartbeat(ctx, "from attempt 1")
		time.Sleep(2500 * time.Millisecond) // several beats after the detail
		return "", errors.New("retry me")
	}
	var got string
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &got)
	}
	time.Sleep(3 * time.Second)
	return got, nil
}

func quietWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 2},
	})
	var got string
	err := workflow.ExecuteActivity(ctx, quiet).Get(ctx, &got)
	return got, err
}

func runQuiet(t *testing.T, c client.Client, interceptors []interceptor.WorkerInterceptor) (string, error) {
	t.Helper()
	queue := fmt.Sprintf("heartbeat-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{Interceptors: interceptors, MaxHeartbeatThrottleInterval: 200 * time.Millisecond})
	w.RegisterWorkflow(quietWorkflow)
	w.RegisterActivity(quiet)
	require.NoError(t, w.Start())
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, quietWorkflow)
	require.NoError(t, err)
	var got string
	err = run.Get(ctx, &got)
	return got, err
}

// A long activity that does not heartbeat itself lives through a heartbeat timeout
// shorter than it runs, and keeps the details it recorded for its next attempt.
func TestHeartbeatInterceptorKeepsQuietActivitiesAlive(t *testing.T) {
	c := testharness.StartDevServer(t)

	got, err := runQuiet(t, c, []interceptor.WorkerInterceptor{activities.NewHeartbeatInterceptor(200 * time.Millisecond)})
	require.NoError(t, err)
	require.Equal(t, "from attempt 1", got, "the beats repeated the activity's own details")

	// Without it, the same activity is taken for dead: the test can fail.
	_, err = runQuiet(t, c, nil)
	var timeout *temporal.TimeoutError
	require.ErrorAs(t, err, &timeout)
}
