package activities_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zerodown/zerodown/timeline"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
)

func notifyEvent(seq int, kind timeline.EventKind, phase timeline.Phase) notify.Event {
	return notify.Event{
		ReleaseID: "release/board/prod", FirstRunID: "run-1", Seq: seq, Kind: kind, Phase: phase,
		Service: "board", Environment: "prod", Version: "v2", Started: time.Now(),
	}
}

// The workflow's contract: the first call returns the thread, later calls pass it back.
func TestNotifyThreadsTheRelease(t *testing.T) {
	env, _, acts := setup(t)
	srv := slacktest.New(t)
	acts.Notifier = slack.New(slacktest.Token, slack.Options{APIURL: srv.APIURL(), Logger: slog.New(slog.DiscardHandler)})

	v, err := env.ExecuteActivity(acts.Notify, activities.NotifyInput{Channel: "#releases", Event: notifyEvent(1, timeline.KindStarted, "Planning")})
	require.NoError(t, err)
	var first activities.NotifyResult
	require.NoError(t, v.Get(&first))
	require.True(t, strings.HasPrefix(first.Thread, "slack:C0RELEASES:"), first.Thread)

	v, err = env.ExecuteActivity(acts.Notify, activities.NotifyInput{Channel: "#releases", Thread: first.Thread, Event: notifyEvent(2, timeline.KindCanary, "Soaking")})
	require.NoError(t, err)
	var second activities.NotifyResult
	require.NoError(t, v.Get(&second))
	require.Equal(t, first.Thread, second.Thread)
	require.Len(t, srv.TopLevel("C0RELEASES"), 1)
	require.Len(t, srv.Thread("C0RELEASES", strings.TrimPrefix(first.Thread, "slack:C0RELEASES:")), 2)
}

// A notification that cannot succeed is not retried; a rate limit waits as asked.
func TestNotifyErrors(t *testing.T) {
	env, _, acts := setup(t)
	srv := slacktest.New(t)
	acts.Notifier = slack.New("xoxb-revoked", slack.Options{APIURL: srv.APIURL(), Logger: slog.New(slog.DiscardHandler)})
	_, err := env.ExecuteActivity(acts.Notify, activities.NotifyInput{Channel: "C0RELEASES", Event: notifyEvent(1, timeline.KindStarted, "Planning")})
	require.Equal(t, activities.ErrTypeNotifyFailed, nonRetryableType(err))
	require.ErrorContains(t, err, "invalid_auth")

	acts.Notifier = slack.New(slacktest.Token, slack.Options{APIURL: srv.APIURL()})
	srv.RateLimit("chat.postMessage")
	_, err = env.ExecuteActivity(acts.Notify, activities.NotifyInput{Channel: "C0RELEASES", Event: notifyEvent(1, timeline.KindStarted, "Planning")})
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.Equal(t, activities.ErrTypeNotifyRateLimited, app.Type())
	require.False(t, app.NonRetryable())
	require.Equal(t, 7*time.Second, app.NextRetryDelay())
}

// Without a notifier the events are logged, and the call still returns a thread to keep.
func TestNotifyWithoutNotifierLogs(t *testing.T) {
	env, _, acts := setup(t)
	v, err := env.ExecuteActivity(acts.Notify, activities.NotifyInput{Channel: "#releases", Event: notifyEvent(1, timeline.KindStarted, "Planning")})
	require.NoError(t, err)
	var res activities.NotifyResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, "log:release/board/prod", res.Thread)
}
