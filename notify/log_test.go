package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/timeline"
)

func TestLogNotifier(t *testing.T) {
	var buf bytes.Buffer
	n := notify.NewLog(slog.New(slog.NewTextHandler(&buf, nil)))
	e := logEvent(timeline.KindStarted, timeline.PhasePlanning, "ci", "release started")
	e.Changelog = "- faster boards"
	res, err := n.Notify(context.Background(), notify.Request{Channel: "#releases", Attempt: 1, Event: e})
	require.NoError(t, err)
	require.Equal(t, "log:release/board/prod", res.Thread, "a thread to store, like any notifier's")
	require.Contains(t, buf.String(), `msg="release started" release=release/board/prod kind=started phase=Planning version=v2 by=ci channel=#releases`)
	require.Contains(t, buf.String(), `changelog="- faster boards"`)

	res, err = n.Notify(context.Background(), notify.Request{Thread: res.Thread, Attempt: 1, Event: logEvent(timeline.KindPhase, timeline.PhaseBaking, "", "")})
	require.NoError(t, err)
	require.Equal(t, "log:release/board/prod", res.Thread)
	require.Contains(t, buf.String(), `msg=phase`)
}

func logEvent(kind timeline.EventKind, phase timeline.Phase, by, msg string) notify.Event {
	return notify.Event{ReleaseID: "release/board/prod", Kind: kind, Phase: phase, By: by, Message: msg, Version: "v2"}
}
