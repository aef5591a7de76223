package slack_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/timeline"
)

// The thread's parent says what a release waits for and by when it must decide, so the
// people watching the channel see it without opening the thread.
func TestParentShowsTheWaitAndTheDeadline(t *testing.T) {
	srv, n := newSlack(t)
	e := event(1, timeline.KindWaiting, timeline.PhaseWaiting, "", "waiting for the window, opens Tue 01:30 Europe/London")
	e.Waiting = "waiting for the window, opens Tue 01:30 Europe/London"
	e.DecideBy = time.Now().Add(3 * time.Hour)
	send(t, n, "", e)
	parent := srv.TopLevel(channelID)[0]
	body := text(parent.Blocks)
	require.Contains(t, body, "*Waiting*\nwaiting for the window, opens Tue 01:30 Europe/London")
	require.Contains(t, body, "*Deadline*\ndecide by <!date^")
	require.Contains(t, body, "(3h0m0s left)")

	// Once the release has ended, the deadline is no longer news.
	done := event(2, timeline.KindSucceeded, timeline.PhaseSucceeded, "", "done")
	done.DecideBy, done.Ended = e.DecideBy, t0.Add(time.Hour)
	send(t, n, "", done)
	require.NotContains(t, text(srv.TopLevel(channelID)[0].Blocks), "*Deadline*")
}
