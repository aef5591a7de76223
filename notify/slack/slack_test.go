package slack_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/timeline"
)

const channelID = "C0RELEASES"

// quiet drops the notifier's warnings, which these tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newSlack(t *testing.T) (*slacktest.Server, *slack.Notifier) {
	srv := slacktest.New(t)
	return srv, slack.New(slacktest.Token, slack.Options{APIURL: srv.APIURL(), Logger: quiet})
}

// release is the running example: board v2 to prod, replacing v1.
func event(seq int, kind timeline.EventKind, phase timeline.Phase, by, msg string) notify.Event {
	return notify.Event{
		ReleaseID: "release/board/prod", FirstRunID: "run-1", Seq: seq, Kind: kind, Time: t0.Add(time.Duration(seq) * time.Minute),
		Phase: phase, By: by, Message: msg,
		Service: "board", Environment: "prod", Version: "v2", PreviousVersion: "v1", StartedBy: "ci", Started: t0, Desired: 4,
	}
}

func send(t *testing.T, n notify.Notifier, thread string, e notify.Event) string {
	t.Helper()
	res, err := n.Notify(context.Background(), notify.Request{Channel: "#releases", Thread: thread, Attempt: 1, Event: e})
	require.NoError(t, err)
	return res.Thread
}

// text gathers every piece of text of a message's blocks.
func text(blocks slackapi.Blocks) string {
	var out []string
	for _, b := range blocks.BlockSet {
		switch b := b.(type) {
		case *slackapi.HeaderBlock:
			out = append(out, b.Text.Text)
		case *slackapi.SectionBlock:
			if b.Text != nil {
				out = append(out, b.Text.Text)
			}
			for _, f := range b.Fields {
				out = append(out, f.Text)
			}
		case *slackapi.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if tx, ok := e.(*slackapi.TextBlockObject); ok {
					out = append(out, tx.Text)
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

// buttons maps each button's action ID to its value.
func buttons(blocks slackapi.Blocks) map[string]string {
	out := map[string]string{}
	for _, b := range blocks.BlockSet {
		if a, ok := b.(*slackapi.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slackapi.ButtonBlockElement); ok {
					out[btn.ActionID] = btn.Value
				}
			}
		}
	}
	return out
}

// A release from start to success: one parent message redrawn in place, every event a
// reply in its thread, the changelog in the thread, buttons where a decision is asked.
func TestReleaseThread(t *testing.T) {
	srv, n := newSlack(t)

	start := event(1, timeline.KindStarted, "Planning", "ci", "")
	start.Changelog = "- faster boards\n- fix <!channel> ping & co"
	thread := send(t, n, "", start)

	top := srv.TopLevel(channelID)
	require.Len(t, top, 1, "one parent message per release")
	parent := top[0]
	require.Equal(t, "slack:"+channelID+":"+parent.TS, thread, "the thread names the channel ID and the parent")
	require.Equal(t, "board v2 to prod: Planning", parent.Text)
	require.Contains(t, text(parent.Blocks), "board v2 to prod")
	require.Contains(t, text(parent.Blocks), "v1 → v2")
	require.Equal(t, "zerodown_release", parent.Metadata.EventType)
	require.Equal(t, "release/board/prod/run-1", parent.Metadata.EventPayload["key"])
	require.Equal(t, map[string]string{slack.ActionAbort: `{"release":"release/board/prod","firstRunId":"run-1"}`}, buttons(parent.Blocks))

	replies := srv.Thread(channelID, parent.TS)
	require.Len(t, replies, 2, "the start, then the changelog")
	require.Contains(t, text(replies[0].Blocks), "release of board v2 to prod started: v1 → v2, 4 instance(s)")
	require.Contains(t, text(replies[0].Blocks), "by *ci*")
	cl := text(replies[1].Blocks)
	require.Contains(t, cl, "*Changelog* of v2")
	require.Contains(t, cl, "- faster boards")
	require.Contains(t, cl, "fix &lt;!channel&gt; ping &amp; co", "a changelog cannot ping the channel")

	// Each later event: a reply, and the parent redrawn.
	steps := []notify.Event{
		event(2, timeline.KindCanary, "Soaking", "", "1 canary instance(s) of v2 healthy and taking traffic"),
		event(3, timeline.KindPhase, "Soaking", "", ""),
		event(4, timeline.KindCheckFailed, "Soaking", "", "check 1/2 failed: error-rate 0.02 > 0.01"),
	}
	for _, e := range steps {
		require.Equal(t, thread, send(t, n, thread, e), "the thread never changes")
	}
	parent = srv.TopLevel(channelID)[0]
	require.Equal(t, 3, parent.Updates)
	require.Contains(t, text(parent.Blocks), "Soaking")
	require.Contains(t, buttons(parent.Blocks), slack.ActionPromote, "while soaking: promote now")
	require.Len(t, srv.Thread(channelID, parent.TS), 4, "a phase change redraws the parent only")

	ask := event(5, timeline.KindApprovalRequested, "AwaitingApproval", "", "waiting for alice, group:sre to approve")
	ask.Approval = &notify.Approval{Gate: "afterSoak", Approvers: "alice, group:sre (bob, carol)", Required: 2, Deadline: t0.Add(24 * time.Hour), OnTimeout: "abort"}
	send(t, n, thread, ask)
	replies = srv.Thread(channelID, parent.TS)
	req := replies[len(replies)-1]
	require.True(t, req.Broadcast, "an approval request is shown in the channel too")
	want := `{"release":"release/board/prod","firstRunId":"run-1"}`
	require.Equal(t, map[string]string{slack.ActionApprove: want, slack.ActionAbort: want}, buttons(req.Blocks))
	require.Contains(t, text(req.Blocks), "0 of 2")
	parent = srv.TopLevel(channelID)[0]
	require.Equal(t, map[string]string{slack.ActionApprove: want, slack.ActionAbort: want}, buttons(parent.Blocks))
	require.Contains(t, text(parent.Blocks), "Approvers: alice, group:sre (bob, carol)")

	ok := event(6, timeline.KindApproved, "AwaitingApproval", "alice", "approved: graphs look fine")
	ok.Approval = &notify.Approval{Gate: "afterSoak", Required: 2, ApprovedBy: []string{"alice"}}
	send(t, n, thread, ok)
	require.Contains(t, text(srv.TopLevel(channelID)[0].Blocks), "1 of 2 (approved by alice)")

	batch := event(7, timeline.KindBatch, "Promoting", "", "batch 1/3: 1 new instance(s) attached, 2 old still serving")
	batch.Batch, batch.Batches, batch.Traffic = 1, 3, map[string]int{"v1": 50, "v2": 50}
	send(t, n, thread, batch)
	parent = srv.TopLevel(channelID)[0]
	require.Contains(t, text(parent.Blocks), "batch 1 of 3")
	require.Contains(t, text(parent.Blocks), "v1 50% · v2 50%")

	done := event(8, timeline.KindSucceeded, "Succeeded", "", "")
	done.Ended = t0.Add(4*time.Hour + 12*time.Minute)
	send(t, n, thread, done)
	parent = srv.TopLevel(channelID)[0]
	require.Empty(t, buttons(parent.Blocks), "a finished release offers nothing to click")
	require.Contains(t, text(parent.Blocks), "*Took*\n4h12m0s")
	last := srv.Thread(channelID, parent.TS)
	require.Contains(t, text(last[len(last)-1].Blocks), "released v2 to prod in 4h12m0s")
	require.True(t, last[len(last)-1].Broadcast)
	require.Equal(t, 1, srv.Calls("conversations.history"), "the parent is looked up once, before it is posted")
}

// Slack posted the parent but its answer was lost: the retry finds it by its metadata
// instead of posting a second one.
func TestRetriedParentIsNotPostedTwice(t *testing.T) {
	srv, n := newSlack(t)
	srv.LoseAnswer("chat.postMessage")
	start := event(1, timeline.KindStarted, "Planning", "ci", "")
	start.Changelog = "- one change"
	req := notify.Request{Channel: "#releases", Attempt: 1, Event: start}
	_, err := n.Notify(context.Background(), req)
	require.Error(t, err)
	require.False(t, notify.IsPermanent(err), "a lost answer is worth a retry")

	req.Attempt = 2
	res, err := n.Notify(context.Background(), req)
	require.NoError(t, err)
	top := srv.TopLevel(channelID)
	require.Len(t, top, 1)
	require.Equal(t, "slack:"+channelID+":"+top[0].TS, res.Thread)
	require.Len(t, srv.Thread(channelID, top[0].TS), 2, "the start and the changelog, once each")

	// A later event that does not know the thread (the first result never reached the
	// workflow) finds the same parent.
	res2, err := n.Notify(context.Background(), notify.Request{Channel: "#releases", Attempt: 1, Event: event(2, timeline.KindCanary, "Soaking", "", "canary up")})
	require.NoError(t, err)
	require.Equal(t, res.Thread, res2.Thread)
	require.Len(t, srv.TopLevel(channelID), 1)
}

// A retried event posts only the parts an earlier try did not.
func TestRetriedRepliesAreNotPostedTwice(t *testing.T) {
	srv, n := newSlack(t)
	thread := send(t, n, "", event(1, timeline.KindPhase, "Planning", "", ""))
	_, ts, _ := strings.Cut(strings.TrimPrefix(thread, "slack:"), ":")

	// The start is posted, the changelog's answer is lost.
	srv.LoseAnswer("chat.postMessage")
	srv.Fail("chat.postMessage", "internal_error")
	start := event(2, timeline.KindStarted, "Planning", "ci", "")
	start.Changelog = "- one change"
	req := notify.Request{Channel: "#releases", Thread: thread, Attempt: 1, Event: start}
	_, err := n.Notify(context.Background(), req)
	require.Error(t, err)
	require.Len(t, srv.Thread(channelID, ts), 1, "the start went out before the failure")

	for attempt := 2; attempt <= 3; attempt++ { // the second try fails too
		req.Attempt = attempt
		_, err = n.Notify(context.Background(), req)
	}
	require.NoError(t, err)
	replies := srv.Thread(channelID, ts)
	require.Len(t, replies, 2, "the start once, the changelog once")
	require.Equal(t, "event", replies[0].Metadata.EventPayload["part"])
	require.Equal(t, "changelog", replies[1].Metadata.EventPayload["part"])

	// Without a Seq there is nothing to tell a retry by: that is the caller's choice.
	noSeq := event(0, timeline.KindBatch, "Promoting", "", "batch 1/1")
	srv.LoseAnswer("chat.postMessage")
	_, err = n.Notify(context.Background(), notify.Request{Channel: "#releases", Thread: thread, Attempt: 1, Event: noSeq})
	require.Error(t, err)
	_, err = n.Notify(context.Background(), notify.Request{Channel: "#releases", Thread: thread, Attempt: 2, Event: noSeq})
	require.NoError(t, err)
	require.Len(t, srv.Thread(channelID, ts), 4)
}

func TestSlackErrors(t *testing.T) {
	srv, n := newSlack(t)
	ctx := context.Background()
	e := event(1, timeline.KindStarted, "Planning", "ci", "")

	bad := slack.New("xoxb-wrong", slack.Options{APIURL: srv.APIURL(), Logger: quiet})
	_, err := bad.Notify(ctx, notify.Request{Channel: channelID, Attempt: 1, Event: e})
	require.ErrorContains(t, err, "invalid_auth")
	require.True(t, notify.IsPermanent(err), "a bad token does not get better")

	_, err = n.Notify(ctx, notify.Request{Channel: "#nowhere", Attempt: 1, Event: e})
	require.ErrorContains(t, err, "channel_not_found")
	require.True(t, notify.IsPermanent(err))

	srv.RateLimit("chat.postMessage")
	_, err = n.Notify(ctx, notify.Request{Channel: channelID, Attempt: 1, Event: e})
	require.False(t, notify.IsPermanent(err))
	require.Equal(t, 7*time.Second, notify.RetryAfter(err))
	var ne *notify.Error
	require.True(t, errors.As(err, &ne))

	thread := send(t, n, "", e)
	srv.Fail("chat.update", "message_not_found") // someone deleted the parent
	_, err = n.Notify(ctx, notify.Request{Channel: channelID, Thread: thread, Attempt: 1, Event: event(2, timeline.KindPhase, "Baking", "", "")})
	require.True(t, notify.IsPermanent(err))
}

func TestChannels(t *testing.T) {
	srv, n := newSlack(t)
	ctx := context.Background()

	// No channel in the spec: nothing is posted, and no call is made.
	res, err := n.Notify(ctx, notify.Request{Attempt: 1, Event: event(1, timeline.KindStarted, "Planning", "ci", "")})
	require.NoError(t, err)
	require.Empty(t, res.Thread)
	require.Zero(t, srv.Calls("chat.postMessage"))

	// An ID needs no lookup; a name is looked up once.
	send(t, n, "", event(1, timeline.KindStarted, "Planning", "ci", ""))
	require.Equal(t, 1, srv.Calls("conversations.list"))
	e := event(1, timeline.KindStarted, "Planning", "ci", "")
	e.FirstRunID = "run-2"
	_, err = n.Notify(ctx, notify.Request{Channel: channelID, Attempt: 1, Event: e})
	require.NoError(t, err)
	require.Equal(t, 1, srv.Calls("conversations.list"))
	require.Len(t, srv.TopLevel(channelID), 2, "two releases, two parents")

	// Without channels:read the name cannot be resolved: post by name all the same.
	srv2, n2 := newSlack(t)
	srv2.Fail("conversations.list", "missing_scope")
	send(t, n2, "", event(1, timeline.KindStarted, "Planning", "ci", ""))
	require.Len(t, srv2.TopLevel(channelID), 1)
	require.Zero(t, srv2.Calls("conversations.history"))

	// A log thread (a worker without a token before) starts a Slack thread.
	thread := send(t, n2, "log:release/board/prod", event(2, timeline.KindCanary, "Soaking", "", "up"))
	require.True(t, strings.HasPrefix(thread, "slack:"+channelID+":"))
}

func TestLongChangelogIsCut(t *testing.T) {
	srv, n := newSlack(t)
	var b strings.Builder
	for i := range 2000 {
		b.WriteString("- change number ")
		b.WriteString(strings.Repeat("x", i%50))
		b.WriteString("\n")
	}
	e := event(1, timeline.KindStarted, "Planning", "ci", "")
	e.Changelog = b.String()
	send(t, n, "", e)
	parent := srv.TopLevel(channelID)[0]
	cl := srv.Thread(channelID, parent.TS)[1]
	for _, blk := range cl.Blocks.BlockSet {
		if s, ok := blk.(*slackapi.SectionBlock); ok {
			require.LessOrEqual(t, len(s.Text.Text), 3000, "Slack refuses longer sections")
		}
	}
	require.Regexp(t, `… and \d+ more line\(s\), not shown`, text(cl.Blocks))
	require.LessOrEqual(t, len(text(cl.Blocks)), 13000)
}

func TestActionValue(t *testing.T) {
	v := slack.ActionValue{ReleaseID: "release/board/prod", FirstRunID: "abc"}
	got, err := slack.DecodeActionValue(v.Encode())
	require.NoError(t, err)
	require.Equal(t, v, got)
	_, err = slack.DecodeActionValue("release/board/prod")
	require.Error(t, err)
	_, err = slack.DecodeActionValue(`{"release":"board/prod"}`)
	require.Error(t, err)
}
