package workerapp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/zerodown/zerodown/timeline"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/redact"
)

const workerSecret = "worker-secret-value-9c1e"

type secretBag struct {
	Token string
	raw   []byte
}

// The worker's log never shows a secret, whether it is in the message, an attribute, an
// error, a group, a value logged whole or an attribute added before.
func TestRedactingLoggerRedactsEverything(t *testing.T) {
	var buf bytes.Buffer
	r := redact.New(map[string]string{"SLACK_BOT_TOKEN": workerSecret})
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		logger := workerapp.RedactingLogger(slog.New(h), r).With("token", workerSecret).WithGroup("g")
		logger.Info("posting with "+workerSecret,
			"error", errors.New("invalid_auth for "+workerSecret),
			"bag", secretBag{Token: workerSecret, raw: []byte(workerSecret)},
			slog.Group("req", "auth", "Bearer "+workerSecret),
			"n", 3)
	}
	out := buf.String()
	require.NotContains(t, out, workerSecret)
	require.Contains(t, out, "posting with [REDACTED:SLACK_BOT_TOKEN]")
	require.Contains(t, out, "invalid_auth for [REDACTED:SLACK_BOT_TOKEN]")
	require.Contains(t, out, `"n":3`, "other values are kept as they are")
}

type recordingNotifier struct{ got []notify.Request }

func (n *recordingNotifier) Notify(_ context.Context, req notify.Request) (notify.Result, error) {
	n.got = append(n.got, req)
	return notify.Result{Thread: "t1"}, nil
}

func TestRedactingNotifierRedactsTheEvent(t *testing.T) {
	rec := &recordingNotifier{}
	n := workerapp.RedactingNotifier(rec, redact.New(map[string]string{"AWS_SECRET_ACCESS_KEY": workerSecret}))
	res, err := n.Notify(context.Background(), notify.Request{Channel: "#releases", Event: notify.Event{
		ReleaseID: "release/board/prod", Kind: timeline.KindRollback, Version: "v2",
		Message: "preTraffic hook failed: aws=" + workerSecret, Error: "exit 1: " + workerSecret,
		Approval: &notify.Approval{ApprovedBy: []string{workerSecret}},
	}})
	require.NoError(t, err)
	require.Equal(t, "t1", res.Thread)
	require.Len(t, rec.got, 1)
	ev := rec.got[0].Event
	require.Equal(t, "preTraffic hook failed: aws=[REDACTED:AWS_SECRET_ACCESS_KEY]", ev.Message)
	require.Equal(t, "exit 1: [REDACTED:AWS_SECRET_ACCESS_KEY]", ev.Error)
	require.Equal(t, []string{"[REDACTED:AWS_SECRET_ACCESS_KEY]"}, ev.Approval.ApprovedBy)
	require.Equal(t, "release/board/prod", ev.ReleaseID)
	require.Equal(t, "#releases", rec.got[0].Channel)
}

// A change's event carries its steps' details (a command's error, a check's answer): they
// are redacted too before Slack sees them.
func TestRedactingNotifierRedactsAChangesSteps(t *testing.T) {
	rec := &recordingNotifier{}
	n := workerapp.RedactingNotifier(rec, redact.New(map[string]string{"AWS_SECRET_ACCESS_KEY": workerSecret}))
	_, err := n.Notify(context.Background(), notify.Request{Thread: "slack:C1:1.2", ReplyOnly: true, Event: notify.Event{
		ReleaseID: "change/night", Kind: timeline.KindStepFailed, Message: "backup failed: " + workerSecret,
		Change: &notify.Change{Name: "night", Steps: []notify.ChangeStep{{ID: "backup", Kind: "command", State: "failed", Detail: "exit 1: key=" + workerSecret}},
			Confirm: &notify.Confirm{Step: "landing", Prompt: "check " + workerSecret}},
	}})
	require.NoError(t, err)
	ev := rec.got[0].Event
	require.Equal(t, "backup failed: [REDACTED:AWS_SECRET_ACCESS_KEY]", ev.Message)
	require.Equal(t, "exit 1: key=[REDACTED:AWS_SECRET_ACCESS_KEY]", ev.Change.Steps[0].Detail)
	require.Equal(t, "check [REDACTED:AWS_SECRET_ACCESS_KEY]", ev.Change.Confirm.Prompt)
	require.True(t, rec.got[0].ReplyOnly, "the request's mode is kept")
}
