package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// TestMorePathsOnDevServer runs the rollback, approval-timeout and continue-as-new paths
// on a real dev server, so that each has a recorded history for the replay test.
func TestMorePathsOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	c := testharness.StartDevServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, c, fleet.Registry{schemas.ProviderMemory: f.Factory})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	base := integrationSpec()
	base.Canary.Soak = schemas.Duration(2 * time.Second)
	base.Canary.Analysis.Interval = schemas.Duration(time.Second) // the shortest a spec may ask

	// An unhealthy canary rolls back on its own.
	f.SetUnhealthy("v2", true)
	run := start(ctx, t, c, base, "v2", 0)
	requireOutcome(ctx, t, run, workflows.ErrTypeRolledBack, "failed its health check")
	fleetHas(t, f, "v1", 4)
	saveHistory(ctx, t, c, base.ID(), run.GetRunID(), "release-rolledback.json")

	// Nobody approves within the timeout: abort.
	s := base
	s.Canary.Approval.Timeout = schemas.Duration(time.Second)
	run = start(ctx, t, c, s, "v3", 0)
	requireOutcome(ctx, t, run, workflows.ErrTypeRolledBack, "approval timed out after 1s")
	fleetHas(t, f, "v1", 4)
	saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-approval-timeout.json")

	// A soak longer than one run's checks continues as new and keeps its state.
	s = base
	s.Canary.Soak = schemas.Duration(3 * time.Second)
	s.Canary.Approval = schemas.Approval{}
	run = start(ctx, t, c, s, "v4", 1) // one check a run: two timers anywhere in a 3s soak force a new run
	first := run.GetRunID()
	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st)) // Get follows the chain of runs
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.GreaterOrEqual(t, st.Run, 1, "the soak continued as new at least once")
	fleetHas(t, f, "v4", 4)
	saveHistory(ctx, t, c, s.ID(), first, "release-continued-as-new.json")
	// The last run resumed the soak from carried state: its code path is recorded too.
	desc, err := c.DescribeWorkflowExecution(ctx, s.ID(), "")
	require.NoError(t, err)
	last := desc.WorkflowExecutionInfo.Execution.RunId
	require.NotEqual(t, first, last)
	saveHistory(ctx, t, c, s.ID(), last, "release-resumed-after-continue-as-new.json")
}

func start(ctx context.Context, t *testing.T, c client.Client, s schemas.Spec, version string, checksPerRun int) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(&s, version), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: version, StartedBy: "ci", ChecksPerRun: checksPerRun})
	require.NoError(t, err)
	return run
}

func requireOutcome(ctx context.Context, t *testing.T, run client.WorkflowRun, kind, reason string) {
	t.Helper()
	err := run.Get(ctx, nil)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want %s, got %v", kind, err)
	require.Equal(t, kind, app.Type())
	require.Contains(t, app.Error(), reason)
}
