package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// TestChangeOnDevServer runs two changes on a real dev server: one confirmed, whose
// worker stops while the back end soaks and another worker takes over; one rejected,
// which rolls both releases back. Their histories, and their releases', replay.
func TestChangeOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	c := testharness.StartDevServer(t)
	fleets := map[string]*memory.Fleet{"api": memory.New(), "web": memory.New()}
	for _, f := range fleets {
		f.Seed("v1", 2)
	}
	registry := fleet.Registry{schemas.ProviderMemory: func(tg schemas.Target) (fleet.Fleet, error) { return fleets[tg.Memory.Fleet], nil }}
	_, stopFirst := testharness.StartStoppableWorker(t, c, workerapp.Options{Fleets: registry})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	short := func(service string) *schemas.Spec {
		s := releaseSpec(service)
		s.Canary.Soak = schemas.Duration(3 * time.Second)
		s.Canary.Analysis.Interval = schemas.Duration(time.Second)
		s.Drain.Timeout = schemas.Duration(10 * time.Second)
		return s
	}
	spec := schemas.ChangeSpec{
		Name: "night", Environment: "prod",
		Steps: []schemas.Step{
			{ID: "backup", Command: &schemas.CommandStep{Run: []string{"true"}, Undo: []string{"true"}}},
			{ID: "api", After: []string{"backup"}, Release: &schemas.ReleaseStep{File: "api.yaml", Spec: short("api"), Version: "v2"}},
			{ID: "web", After: []string{"api"}, Release: &schemas.ReleaseStep{File: "web.yaml", Spec: short("web"), Version: "v2"}},
			{ID: "landing", After: []string{"web"}, Confirm: &schemas.ConfirmStep{Approvers: []string{"client"}, Checklist: []string{"orders"}}},
		},
	}
	opts := client.StartWorkflowOptions{ID: schemas.ChangeID(spec.Name), TaskQueue: workflows.TaskQueue}
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: spec, StartedBy: "dba"})
	require.NoError(t, err)

	// The worker goes away while the back end soaks; another one carries on.
	waitPhase(ctx, t, c, "release/api/prod", workflows.PhaseSoaking)
	stopFirst()
	testharness.StartWorker(t, c, registry)

	waitStep(ctx, t, c, spec.Name, "landing", workflows.StepRunning)
	_, err = update(ctx, c, opts.ID, workflows.UpdateConfirm, workflows.ConfirmRequest{Step: "landing", By: "client", Checklist: map[string]bool{"orders": true}})
	require.NoError(t, err)
	var st workflows.ChangeStatus
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	for name, f := range fleets {
		fs, err := f.Describe(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"v2": 2}, fs.ByVersion(), name)
	}
	histories := []*historypb.History{
		saveHistory(ctx, t, c, opts.ID, run.GetRunID(), "change-succeeded.json"),
		saveHistory(ctx, t, c, "release/api/prod", "", "release-held-finalized.json"),
	}

	// Rejected: both releases go back to v2, the version they had.
	spec.Name = "night-2"
	spec.Steps[1].Release.Version, spec.Steps[2].Release.Version = "v3", "v3"
	opts.ID = schemas.ChangeID(spec.Name)
	run, err = c.ExecuteWorkflow(ctx, opts, workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: spec, StartedBy: "dba"})
	require.NoError(t, err)
	waitStep(ctx, t, c, spec.Name, "landing", workflows.StepRunning)
	_, err = update(ctx, c, opts.ID, workflows.UpdateReject, workflows.RejectRequest{Step: "landing", By: "client", Reason: "invoices wrong"})
	require.NoError(t, err)
	err = run.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, workflows.ErrTypeRolledBack, app.Type())
	for name, f := range fleets {
		fs, err := f.Describe(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"v2": 2}, fs.ByVersion(), name)
	}
	histories = append(histories,
		saveHistory(ctx, t, c, opts.ID, run.GetRunID(), "change-rolledback.json"),
		saveHistory(ctx, t, c, "release/web/prod", "", "release-held-rolledback.json"))
	for _, h := range histories {
		require.NoError(t, replay(t, h))
	}
}

func waitStep(ctx context.Context, t *testing.T, c client.Client, change, step string, want workflows.StepState) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, schemas.ChangeID(change), "", workflows.QueryStatus)
		if err != nil {
			return false
		}
		var st workflows.ChangeStatus
		if v.Get(&st) != nil {
			return false
		}
		s, _ := st.Step(step)
		return s.State == want
	}, 2*time.Minute, 100*time.Millisecond, "step %s never %s", step, want)
}
