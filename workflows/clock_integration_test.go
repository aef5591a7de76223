package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timerules"
	"github.com/zerodown/zerodown/workflows"
)

// TestStepsAndClockOnDevServer runs, on a real dev server, a release with traffic steps,
// one held to a go/no-go call, a window and a deadline, and one deferred by a no-go;
// their histories are recorded for the replay test.
func TestStepsAndClockOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	c := testharness.StartDevServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorkerWith(t, c, workerapp.Options{Fleets: fleet.Registry{schemas.ProviderMemory: f.Factory}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Traffic steps: 10 % then 50 %, then the promote shares by instance count again.
	s := integrationSpec()
	s.Canary.Approval = schemas.Approval{}
	s.Canary.Soak = schemas.Duration(4 * time.Second)
	s.Canary.Traffic = []int{10, 50}
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, []map[string]int{{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {}}, f.WeightsHistory())
	stepped := saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-stepped.json")

	// The clock: a window open now, a deadline an hour away, a go/no-go call answered go.
	now := time.Now().UTC()
	s = integrationSpec()
	s.Window = []timerules.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "00:00", Until: "24:00", Timezone: "UTC"}}
	s.Deadline = &timerules.Deadline{DecideBy: now.Add(time.Hour).Format(time.RFC3339), DoneBy: now.Add(2 * time.Hour).Format(time.RFC3339)}
	s.GoNoGo = &schemas.GoNoGo{Approvers: []string{"alice"}, Timeout: schemas.Duration(time.Hour)}
	run, err = c.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v3"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v3", StartedBy: "ci"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := update(ctx, c, s.ID(), workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo, Reason: "ready"})
		return err == nil
	}, time.Minute, 200*time.Millisecond, "the go/no-go call never opened")
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseAwaitingApproval)
	_, err = update(ctx, c, s.ID(), workflows.UpdateExtend, workflows.ExtendRequest{By: "alice", Extra: schemas.Duration(time.Hour), Reason: "the client grants an hour"})
	require.NoError(t, err)
	_, err = update(ctx, c, s.ID(), workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Len(t, st.Clock.Extensions, 1)
	clocked := saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-go-deadline.json")

	// A no-go: Deferred, nothing launched.
	launches := f.Launches()
	run, err = c.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v4"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v4", StartedBy: "ci"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := update(ctx, c, s.ID(), workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerNoGo, Reason: "the DBA is ill"})
		return err == nil
	}, time.Minute, 200*time.Millisecond)
	err = run.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, workflows.ErrTypeDeferred, app.Type())
	require.Equal(t, launches, f.Launches(), "a no-go launches nothing")
	deferred := saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-deferred.json")

	require.NoError(t, replay(t, stepped))
	require.NoError(t, replay(t, clocked))
	require.NoError(t, replay(t, deferred))
}
