package workflows_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// recordEnv, when set to 1, makes the integration test write the histories it produces
// into testdata/histories, where the replay test finds them (`make record-histories`).
const recordEnv = "ZERODOWN_RECORD"

// historySet is where recordings of the current workflow code go. Sets recorded by
// earlier code stay forever: each is replayed on every change. Start a new set (and keep
// the old one) whenever a change goes behind workflow.GetVersion.
const historySet = "8-remind"

func integrationSpec() schemas.Spec {
	s := spec()
	s.Canary.Soak = schemas.Duration(3 * time.Second)
	s.Canary.Analysis.Interval = schemas.Duration(time.Second)
	s.Canary.Approval = schemas.Approval{Required: true, Approvers: []string{"alice"}, Timeout: schemas.Duration(time.Hour), OnTimeout: schemas.OnTimeoutAbort}
	s.Drain.Timeout = schemas.Duration(10 * time.Second)
	return s
}

// TestReleaseOnDevServer runs a whole release on a real Temporal dev server with the
// in-memory fleet: a refused approval, an approval through the client, success; then a
// second release that is aborted and rolls back. Both histories replay.
func TestReleaseOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	c := testharness.StartDevServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	ready := testharness.StartWorkerWith(t, c, workerapp.Options{
		Fleets: fleet.Registry{schemas.ProviderMemory: f.Factory}, MetricsAddress: "127.0.0.1:0",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s := integrationSpec()
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)

	waitPhase(ctx, t, c, s.ID(), workflows.PhaseAwaitingApproval)
	_, err = update(ctx, c, s.ID(), workflows.UpdateApprove, workflows.ApproveRequest{By: "mallory"})
	require.ErrorContains(t, err, "mallory may not approve release/board/prod: approvers are alice")
	msg, err := update(ctx, c, s.ID(), workflows.UpdateApprove, workflows.ApproveRequest{By: "alice", Comment: "canary looks good"})
	require.NoError(t, err)
	require.Equal(t, "approved by alice", msg)

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.True(t, hasEvent(st, "approved", "alice"))
	fleetHas(t, f, "v2", 4)

	// The phase is searchable, as operators search releases in the Temporal UI.
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, listRequest(`ZerodownService = 'board' AND ZerodownPhase = 'Succeeded' AND ZerodownVersion = 'v2'`))
		return err == nil && len(resp.Executions) == 1
	}, 20*time.Second, 200*time.Millisecond)
	approved := saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-approved.json")

	// A second release, aborted while it soaks, leaves the fleet on v2.
	s.Canary.Soak = schemas.Duration(time.Hour)
	run, err = c.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v3"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: "v3", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseSoaking)
	_, err = update(ctx, c, s.ID(), workflows.UpdateAbort, workflows.AbortRequest{By: "bob", Reason: "error budget"})
	require.NoError(t, err)
	err = run.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want the release to fail as aborted: %v", err)
	require.Equal(t, workflows.ErrTypeAborted, app.Type())
	require.NoError(t, app.Details(&st))
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	fleetHas(t, f, "v2", 4)
	aborted := saveHistory(ctx, t, c, s.ID(), run.GetRunID(), "release-aborted.json")

	// Operators see both outcomes, the rollback and the phase durations on /metrics.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		m := scrape(t, ready.MetricsAddress)
		assert.Regexp(c, `zerodown_releases_total\{[^}]*outcome="Succeeded"[^}]*\} 1\n`, m)
		assert.Regexp(c, `zerodown_releases_total\{[^}]*outcome="Aborted"[^}]*\} 1\n`, m)
		assert.Regexp(c, `zerodown_rollbacks_total\{[^}]*service="board"[^}]*\} 1\n`, m)
		assert.Regexp(c, `zerodown_phase_duration_seconds_count\{[^}]*phase="Soaking"[^}]*\} 2\n`, m)
	}, 10*time.Second, 200*time.Millisecond)

	// What this worker just wrote, this worker must replay.
	for _, h := range []*historypb.History{approved, aborted} {
		require.NoError(t, replay(t, h))
	}
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + workerapp.MetricsPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func update(ctx context.Context, c client.Client, id, name string, arg any) (string, error) {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return "", err
	}
	var out string
	err = h.Get(ctx, &out)
	return out, err
}

func waitPhase(ctx context.Context, t *testing.T, c client.Client, id string, want workflows.Phase) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		if err != nil {
			return false
		}
		var st workflows.Status
		return v.Get(&st) == nil && st.Phase == want
	}, time.Minute, 100*time.Millisecond, "release never reached %s", want)
}

func fleetHas(t *testing.T, f *memory.Fleet, version string, n int) {
	t.Helper()
	st, err := f.Describe(context.Background())
	require.NoError(t, err)
	require.Equal(t, map[string]int{version: n}, st.ByVersion())
}

// saveHistory fetches a finished run's history and, when recording, writes it to testdata.
func saveHistory(ctx context.Context, t *testing.T, c client.Client, id, runID, name string) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	if os.Getenv(recordEnv) == "1" {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		require.NoError(t, err)
		dir := filepath.Join("testdata", "histories", historySet)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		t.Logf("recorded %d events in %s/%s", len(h.Events), dir, name)
	}
	return h
}
