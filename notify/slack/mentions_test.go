package slack_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/timeline"
)

// A reminder pings the users and user groups the spec names, in its text and its blocks;
// an @handle is shown as written, and a mention that is not an ID is never markup.
func TestReminderMentionsPeople(t *testing.T) {
	srv, n := newSlack(t)
	thread := send(t, n, "", event(1, timeline.KindStarted, timeline.PhasePlanning, "ci", ""))
	e := event(2, timeline.KindReminder, timeline.PhaseSoaking, "", "afterSoak: approval expected in 15m")
	e.Mentions = []string{"@oncall", "U123", "S0LEADS", "<!channel>"}
	send(t, n, thread, e)

	var got []string
	for _, m := range srv.Thread(channelID, srv.TopLevel(channelID)[0].TS) {
		if m.Text != "" {
			got = append(got, m.Text+"\n"+text(m.Blocks))
		}
	}
	require.NotEmpty(t, got)
	last := got[len(got)-1]
	require.Contains(t, last, "@oncall <@U123> <!subteam^S0LEADS> &lt;!channel&gt;")
	require.Contains(t, last, "approval expected in 15m")
	require.NotContains(t, last, "<!channel>")
}
