package slackbridge_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/slackbridge"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

const e2eSpec = `
service: board
environment: slack
target: {provider: memory, instances: 4}
canary:
  soak: 2s
  analysis: {interval: 1s}
  approval: {required: true, approvers: [alice], timeout: 1h}
promote: {batch: 2}
drain: {timeout: 10s}
`

// world is a real Temporal dev server, a worker on an in-memory fleet serving v1, and a
// Slack bridge in front of it.
type world struct {
	c       client.Client
	fleet   *memory.Fleet
	answers *answers
	url     string
}

func newWorld(t *testing.T) *world {
	srv := testharness.StartServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: f.Factory})
	w := &world{c: srv.Client, fleet: f, answers: newAnswers(t)}
	b, err := slackbridge.New(slackbridge.Config{
		SigningSecret:     secret,
		Users:             map[string]string{"U0ALICE": "alice", "U0BOB": "bob", "U0CAROL": "carol", "U0MALLORY": "mallory"},
		Temporal:          srv.Client,
		ResponseURLPrefix: w.answers.URL,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	web := httptest.NewServer(b)
	t.Cleanup(func() {
		web.Close()
		b.Close(context.Background())
	})
	w.url = web.URL
	return w
}

// press clicks a button of the release's thread and returns what the clicker is told.
func (w *world) press(t *testing.T, release, action, user, firstRun string) string {
	t.Helper()
	cl := click{user: user, team: "T0TEAM", action: action, value: buttonValue(release, firstRun),
		responseURL: w.answers.URL + "/actions/1", channel: "C0RELEASES"}
	require.Equal(t, http.StatusOK, do(t, signed(t, w.url, cl.body(), secret, time.Now())))
	return ephemeralText(t, w.answers.next(t))
}

func TestSlackOnTheDevServer(t *testing.T) {
	w := newWorld(t)
	t.Run("one approver", func(t *testing.T) { testOneApprover(t, w) })
	t.Run("two approvals, four eyes, two gates", func(t *testing.T) { testTwoGates(t, w) })
}

// A release is approved by a signed click on its Approve button; a refused click tells the
// clicker why; a button of a finished release does not reach the next release, whose own
// Abort button rolls it back.
func testOneApprover(t *testing.T, w *world) {
	c, f := w.c, w.fleet
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	press := func(action, user, firstRun string) string {
		t.Helper()
		return w.press(t, "release/board/slack", action, user, firstRun)
	}

	s, err := schemas.Parse([]byte(e2eSpec))
	require.NoError(t, err)
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseAwaitingApproval)

	require.Equal(t, ":no_entry: Refused: mallory may not approve release/board/slack: approvers are alice",
		press(slack.ActionApprove, "U0MALLORY", run.GetRunID()))
	require.Equal(t, ":white_check_mark: release/board/slack: approved by alice.",
		press(slack.ActionApprove, "U0ALICE", run.GetRunID()))

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Contains(t, st.Timeline, workflows.Event{Time: eventTime(st, "approved"), Phase: workflows.PhaseAwaitingApproval, Kind: "approved", By: "alice", Message: "approved: from Slack"})

	// The finished release's buttons do nothing any more.
	require.Equal(t, ":no_entry: Refused: release/board/slack has already finished; this button belongs to a release that is over.",
		press(slack.ActionApprove, "U0ALICE", run.GetRunID()))

	// Nor do they reach the next release of board/slack.
	s.Canary.Soak = schemas.Duration(time.Hour)
	next, err := c.ExecuteWorkflow(ctx, cli.StartOptions(s, "v3"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v3", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseSoaking)
	require.Equal(t, ":no_entry: Refused: release/board/slack has already finished; this button belongs to a release that is over.",
		press(slack.ActionAbort, "U0ALICE", run.GetRunID()))
	require.Equal(t, workflows.PhaseSoaking, phase(ctx, t, c, s.ID()), "the old button did not abort the new release")

	// Its own Abort button does.
	require.Equal(t, ":white_check_mark: release/board/slack: aborted by alice; rolling back.",
		press(slack.ActionAbort, "U0ALICE", next.GetRunID()))
	err = next.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want the release aborted: %v", err)
	require.Equal(t, workflows.ErrTypeAborted, app.Type())
	fs, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 4}, fs.ByVersion(), "rolled back to the approved release")
}

const gatesSpec = `
service: board
environment: gates
target: {provider: memory, instances: 4}
canary:
  soak: 1s
  analysis: {interval: 1s}
  approval:
    required: true
    approvers: [alice, "group:sre"]
    groups: {sre: [bob, carol]}
    count: 2
    fourEyes: true
    gates: [afterSoak, beforeLastBatch]
    timeout: 1h
promote: {batch: 2}
drain: {timeout: 10s}
`

// The policy of the spec, through Slack: the starter cannot approve, nobody approves
// twice, each gate needs two people, and a group member counts as an approver.
func testTwoGates(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := schemas.Parse([]byte(gatesSpec))
	require.NoError(t, err)
	run, err := w.c.ExecuteWorkflow(ctx, cli.StartOptions(s, "v4"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v4", StartedBy: "bob"})
	require.NoError(t, err)
	press := func(action, user string) string {
		t.Helper()
		return w.press(t, s.ID(), action, user, run.GetRunID())
	}

	waitPhase(ctx, t, w.c, s.ID(), workflows.PhaseAwaitingApproval)
	require.Equal(t, ":no_entry: Refused: bob started release/board/gates and may not approve it too (canary.approval.fourEyes)", press(slack.ActionApprove, "U0BOB"))
	require.Equal(t, ":no_entry: Refused: mallory may not approve release/board/gates: approvers are alice, group:sre (bob, carol)", press(slack.ActionApprove, "U0MALLORY"))
	require.Equal(t, ":white_check_mark: release/board/gates: approved by alice (1 of 2).", press(slack.ActionApprove, "U0ALICE"))
	require.Equal(t, ":no_entry: Refused: alice already approved release/board/gates (1 of 2 approvals)", press(slack.ActionApprove, "U0ALICE"))
	require.Equal(t, ":white_check_mark: release/board/gates: approved by carol (2 of 2).", press(slack.ActionApprove, "U0CAROL"))

	// The second gate, before the last batch, asks again from scratch.
	waitFor(t, "the gate before the last batch", func() bool {
		v, err := w.c.QueryWorkflow(ctx, s.ID(), "", workflows.QueryStatus)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.PendingApproval != nil && st.PendingApproval.Gate == schemas.GateBeforeLastBatch
	})
	require.Equal(t, ":white_check_mark: release/board/gates: approved by carol (1 of 2).", press(slack.ActionApprove, "U0CAROL"))
	require.Equal(t, ":white_check_mark: release/board/gates: approved by alice (2 of 2).", press(slack.ActionApprove, "U0ALICE"))

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	fs, err := w.fleet.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v4": 4}, fs.ByVersion())
}

func eventTime(st workflows.Status, kind timeline.EventKind) time.Time {
	for _, e := range st.Timeline {
		if e.Kind == kind {
			return e.Time
		}
	}
	return time.Time{}
}

func phase(ctx context.Context, t *testing.T, c client.Client, id string) workflows.Phase {
	t.Helper()
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.Status
	require.NoError(t, v.Get(&st))
	return st.Phase
}

func waitPhase(ctx context.Context, t *testing.T, c client.Client, id string, want workflows.Phase) {
	t.Helper()
	waitFor(t, "phase "+string(want), func() bool {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Phase == want
	})
}
