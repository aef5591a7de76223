package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// TestPlainTemporalCLI does what the README shows: query and approve a release with the
// plain `temporal` CLI, no zerodown binary involved.
func TestPlainTemporalCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	srv := testharness.StartServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: f.Factory})
	exe, err := testharness.TemporalCLI()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := integrationSpec()
	run, err := srv.Client.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v2"})
	require.NoError(t, err)
	waitPhase(ctx, t, srv.Client, s.ID(), workflows.PhaseAwaitingApproval)

	temporal := func(args ...string) (string, error) {
		args = append(args, "--address", srv.Address, "--workflow-id", s.ID())
		out, err := exec.CommandContext(ctx, exe, args...).CombinedOutput()
		return string(out), err
	}
	out, err := temporal("workflow", "query", "--name", "status", "--output", "json")
	require.NoError(t, err, out)
	var q struct {
		QueryResult []workflows.Status `json:"queryResult"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &q), out)
	require.Len(t, q.QueryResult, 1)
	require.Equal(t, workflows.PhaseAwaitingApproval, q.QueryResult[0].Phase)
	require.Equal(t, []string{"alice"}, q.QueryResult[0].PendingApproval.Approvers)

	out, err = temporal("workflow", "update", "execute", "--name", "approve", "--input", `{"by":"mallory"}`)
	require.Error(t, err)
	require.Contains(t, out, "mallory may not approve")

	out, err = temporal("workflow", "update", "execute", "--name", "approve", "--input", `{"by":"alice","comment":"from the temporal CLI"}`)
	require.NoError(t, err, out)
	require.Contains(t, out, "approved by alice")

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
}

// A release started with the plain `temporal` CLI skips `zerodown validate`, so the
// workflow checks the spec itself: it fails at once, naming the field, and launches
// nothing.
func TestPlainTemporalCLIStartWithAnInvalidSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	srv := testharness.StartServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	seeded := f.Launches()
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: f.Factory})
	exe, err := testharness.TemporalCLI()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := integrationSpec()
	s.Promote.Batch = "half of them"
	input, err := json.Marshal(workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "mallory"})
	require.NoError(t, err)
	out, err := exec.CommandContext(ctx, exe, "workflow", "start", "--address", srv.Address,
		"--type", workflows.ReleaseWorkflowName, "--task-queue", workflows.TaskQueue,
		"--workflow-id", s.ID(), "--input", string(input)).CombinedOutput()
	require.NoError(t, err, "%s", out)

	var st workflows.Status
	err = srv.Client.GetWorkflow(ctx, s.ID(), "").Get(ctx, &st)
	require.Error(t, err)
	require.ErrorContains(t, err, "promote.batch")
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, workflows.ErrTypeInvalidInput, app.Type())
	require.True(t, app.NonRetryable(), "an invalid spec is not retried")
	require.NoError(t, app.Details(&st))
	require.Equal(t, workflows.PhaseFailed, st.Phase)
	require.Equal(t, seeded, f.Launches(), "nothing launched")
}
