package slack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/timeline"
)

// changeEvent is an event of the change night, whose landing step may be asking.
func changeEvent(seq int, kind timeline.EventKind, msg string, steps ...notify.ChangeStep) notify.Event {
	return notify.Event{
		ReleaseID: "change/night", FirstRunID: "run-9", Seq: seq, Kind: kind, Time: t0.Add(time.Duration(seq) * time.Minute),
		Phase: timeline.PhaseRunning, Message: msg, Environment: "prod", StartedBy: "dba", Started: t0,
		Change: &notify.Change{Name: "night", Steps: steps},
	}
}

// A change's thread: the parent is the step table, redrawn; a release of the change only
// replies, naming itself, and never touches the parent; the confirm step's reply has
// the Confirm and Reject buttons of that step.
func TestChangeThread(t *testing.T) {
	srv, n := newSlack(t)
	thread := send(t, n, "", changeEvent(1, timeline.KindStarted, "change night started by dba: 2 step(s) in prod",
		notify.ChangeStep{ID: "api", Kind: "release", State: "running"}, notify.ChangeStep{ID: "landing", Kind: "confirm", State: "waiting"}))
	parents := srv.TopLevel(channelID)
	require.Len(t, parents, 1)
	parent := parents[0]
	require.Equal(t, "change night in prod: Running", parent.Text)
	require.Contains(t, text(parent.Blocks), "`api` release: *running*")
	require.Contains(t, text(parent.Blocks), "`landing` confirm: *waiting*")

	// The release answers in the change's thread.
	rel := event(1, timeline.KindCanary, timeline.PhaseSoaking, "", "canary healthy")
	res, err := n.Notify(context.Background(), notify.Request{Thread: thread, ReplyOnly: true, Attempt: 1, Event: rel})
	require.NoError(t, err)
	require.Equal(t, thread, res.Thread, "the thread stays the change's")
	require.Len(t, srv.TopLevel(channelID), 1, "no thread of its own")
	replies := srv.Thread(channelID, parent.TS)
	require.Contains(t, text(replies[len(replies)-1].Blocks), "*board v2 to prod*: canary healthy", "the reply names the release")
	require.Zero(t, srv.TopLevel(channelID)[0].Updates, "the release never redraws the change's parent")

	// Without a thread, a reply-only event posts nothing.
	_, err = n.Notify(context.Background(), notify.Request{Channel: "#releases", ReplyOnly: true, Attempt: 1, Event: rel})
	require.NoError(t, err)
	require.Equal(t, 1, srv.Calls("chat.postMessage")-len(srv.Thread(channelID, parent.TS)))

	asked := changeEvent(2, timeline.KindConfirmAsked, "landing: waiting for 1 confirmation(s)",
		notify.ChangeStep{ID: "api", Kind: "release", State: "done", Detail: "release/api/prod v1 -> v2, held"}, notify.ChangeStep{ID: "landing", Kind: "confirm", State: "running"})
	asked.Change.Confirm = &notify.Confirm{Step: "landing", Prompt: "Landing <!channel> tests", Approvers: "client", Required: 1,
		Checklist: []string{"orders", "invoices"}, Deadline: t0.Add(3 * time.Hour), OnTimeout: "rollback"}
	require.Equal(t, thread, send(t, n, thread, asked))
	replies = srv.Thread(channelID, parent.TS)
	last := replies[len(replies)-1]
	require.True(t, last.Broadcast, "a request for people is shown in the channel too")
	body := text(last.Blocks)
	require.Contains(t, body, "• orders\n• invoices")
	require.Contains(t, body, "Landing &lt;!channel&gt; tests", "a prompt cannot ping the channel")
	require.Contains(t, body, "Needs 1 confirmation(s) from client")
	want := slack.ChangeActionValue{ChangeID: "change/night", FirstRunID: "run-9", Step: "landing"}.Encode()
	var buttons []string
	for _, b := range last.Blocks.BlockSet {
		if a, ok := b.(*slackapi.ActionBlock); ok {
			for _, el := range a.Elements.ElementSet {
				btn := el.(*slackapi.ButtonBlockElement)
				require.Equal(t, want, btn.Value)
				buttons = append(buttons, btn.ActionID)
			}
		}
	}
	require.Equal(t, []string{slack.ActionConfirm, slack.ActionReject}, buttons)
	p := srv.TopLevel(channelID)[0]
	require.Equal(t, 1, p.Updates, "the change redraws its parent")
	require.Contains(t, text(p.Blocks), "`api` release: *done* · release/api/prod v1 -&gt; v2, held")
}

// A change of 200 steps stays within Slack's limits of a message.
func TestChangeParentOfManySteps(t *testing.T) {
	srv, n := newSlack(t)
	var steps []notify.ChangeStep
	for i := range notify.MaxToldSteps {
		steps = append(steps, notify.ChangeStep{ID: fmt.Sprintf("step-%03d", i), Kind: "command", State: "done", Detail: strings.Repeat("x", notify.MaxStepDetail)})
	}
	e := changeEvent(1, timeline.KindStarted, "started", steps...)
	e.Change.Hidden = 140
	send(t, n, "", e)
	parent := srv.TopLevel(channelID)[0]
	require.LessOrEqual(t, len(parent.Blocks.BlockSet), 50)
	for _, b := range parent.Blocks.BlockSet {
		if s, ok := b.(*slackapi.SectionBlock); ok && s.Text != nil {
			require.LessOrEqual(t, len(s.Text.Text), 3000)
		}
	}
	require.Contains(t, text(parent.Blocks), "`step-059` command")
	require.Contains(t, text(parent.Blocks), "… and 140 more step(s)")
}

func TestChangeActionValue(t *testing.T) {
	v := slack.ChangeActionValue{ChangeID: "change/night", FirstRunID: "0193-abc", Step: "landing"}
	got, err := slack.DecodeChangeActionValue(v.Encode())
	require.NoError(t, err)
	require.Equal(t, v, got)
	for value, want := range map[string]string{
		`{"release":"release/board/prod"}`:                        "not a zerodown change button value",
		`{"change":"change/night","step":"landing","extra":1}`:    "not a zerodown change button value",
		`{"change":"change/../night","step":"landing"}`:           "names no change",
		`{"change":"change/night","step":""}`:                     "names no step",
		`{"change":"change/night","step":"l","firstRunId":"<"}`:   "names no run",
		strings.Repeat(" ", 2001):                                 "at most 2000",
		`{"change":"change/night","step":"landing"} {"step":"x"}`: "something follows it",
	} {
		_, err := slack.DecodeChangeActionValue(value)
		require.ErrorContains(t, err, want, value)
	}
}

// Whatever a forged click carries, a change button's value either is refused or names a
// change, a step and a run of the shapes zerodown makes, and reads back the same.
func FuzzChangeActionValue(f *testing.F) {
	f.Add(slack.ChangeActionValue{ChangeID: "change/night", FirstRunID: "0193-abc", Step: "landing"}.Encode())
	f.Add(`{"change":"change/night","step":"landing","firstRunId":"` + strings.Repeat("a", 64) + `"}`)
	f.Add(`{"change":"change/night\u0000","step":"landing"}`)
	f.Add(`{"change":"change/night","step":"landing"} {"x":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := slack.DecodeChangeActionValue(s)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(s), 2000)
		require.True(t, strings.HasPrefix(v.ChangeID, "change/"))
		require.LessOrEqual(t, len(v.ChangeID), len("change/")+63)
		require.NotEmpty(t, v.Step)
		require.LessOrEqual(t, len(v.Step), 63)
		require.NotContains(t, v.Step+v.ChangeID+v.FirstRunID, "<")
		again, err := slack.DecodeChangeActionValue(v.Encode())
		require.NoError(t, err)
		require.Equal(t, v, again)
	})
}
