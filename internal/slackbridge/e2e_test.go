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
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
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

// A release on a real Temporal dev server is approved by a signed click on its Approve
// button; a refused click tells the clicker why; a button of a finished release does not
// reach the next release, whose own Abort button rolls it back.
func TestSlackApprovesAReleaseOnTheDevServer(t *testing.T) {
	srv := testharness.StartServer(t)
	c := srv.Client
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, c, fleet.Registry{schemas.ProviderMemory: f.Factory})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	answers := newAnswers(t)
	b, err := slackbridge.New(slackbridge.Config{
		SigningSecret:     secret,
		Users:             map[string]string{"U0ALICE": "alice", "U0MALLORY": "mallory"},
		Temporal:          c,
		ResponseURLPrefix: answers.URL,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	web := httptest.NewServer(b)
	defer web.Close()
	press := func(action, user, firstRun string) string {
		t.Helper()
		cl := click{user: user, team: "T0TEAM", action: action, value: buttonValue("release/board/slack", firstRun),
			responseURL: answers.URL + "/actions/1", channel: "C0RELEASES"}
		require.Equal(t, http.StatusOK, do(t, signed(t, web.URL, cl.body(), secret, time.Now())))
		return ephemeralText(t, answers.next(t))
	}

	s, err := schemas.Parse([]byte(e2eSpec))
	require.NoError(t, err)
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseAwaitingApproval)

	require.Equal(t, ":no_entry: Refused: mallory may not approve release/board/slack: approvers are alice",
		press(notify.ActionApprove, "U0MALLORY", run.GetRunID()))
	require.Equal(t, ":white_check_mark: release/board/slack: approved by alice.",
		press(notify.ActionApprove, "U0ALICE", run.GetRunID()))

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Contains(t, st.Timeline, workflows.Event{Time: eventTime(st, "approved"), Phase: workflows.PhaseAwaitingApproval, Kind: "approved", By: "alice", Message: "approved: from Slack"})

	// The finished release's buttons do nothing any more.
	require.Equal(t, ":no_entry: Refused: release/board/slack has already finished; this button belongs to a release that is over.",
		press(notify.ActionApprove, "U0ALICE", run.GetRunID()))

	// Nor do they reach the next release of board/slack.
	s.Canary.Soak = schemas.Duration(time.Hour)
	next, err := c.ExecuteWorkflow(ctx, cli.StartOptions(s, "v3"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v3", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, c, s.ID(), workflows.PhaseSoaking)
	require.Equal(t, ":no_entry: Refused: release/board/slack has already finished; this button belongs to a release that is over.",
		press(notify.ActionAbort, "U0ALICE", run.GetRunID()))
	require.Equal(t, workflows.PhaseSoaking, phase(ctx, t, c, s.ID()), "the old button did not abort the new release")

	// Its own Abort button does.
	require.Equal(t, ":white_check_mark: release/board/slack: aborted by alice; rolling back.",
		press(notify.ActionAbort, "U0ALICE", next.GetRunID()))
	err = next.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "want the release aborted: %v", err)
	require.Equal(t, workflows.ErrTypeAborted, app.Type())
	fs, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 4}, fs.ByVersion(), "rolled back to the approved release")
}

func eventTime(st workflows.Status, kind string) time.Time {
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
