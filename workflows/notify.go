package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zerodown/zerodown/timeline"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/notify"
)

// notifier sends events (a release's or a change's), in order, from one workflow
// goroutine, so that telling people never blocks or fails the workflow. Failures are
// retried, then recorded.
type notifier struct {
	enabled bool
	queue   []notify.Event
	busy    bool
	// tried counts the notifications that were sent or gave up.
	tried int
	// build makes an event with a snapshot of the workflow's status.
	build func(ctx workflow.Context, kind timeline.EventKind, by, msg string) notify.Event
	// target says where the next event goes.
	target func() (channel, thread string, replyOnly bool)
	// state keeps the thread and the failures (it must survive what the workflow survives).
	state func() *NotifyState
	// failed records a notification that failed after its retries.
	failed func(msg string)
}

func (r *release) startNotifier(ctx workflow.Context) {
	r.notes = &notifier{
		enabled: r.v.notify,
		build:   r.notifyEvent,
		target:  r.notifyTarget,
		state:   func() *NotifyState { return &r.st.Notify },
		failed:  func(msg string) { r.st.Status.NotifyError = msg },
	}
	r.notes.start(ctx)
}

// start runs the notifier's loop, if it is enabled.
func (n *notifier) start(ctx workflow.Context) {
	if !n.enabled {
		return
	}
	// Notifications outlive an abort: they run on a context the abort does not cancel.
	nctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(nctx, n.loop)
}

func (n *notifier) loop(ctx workflow.Context) {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	}
	actx := workflow.WithActivityOptions(ctx, opts)
	for {
		_ = workflow.Await(ctx, func() bool { return len(n.queue) > 0 })
		n.busy = true
		ev := n.queue[0]
		n.queue = n.queue[1:]
		st := n.state()
		channel, thread, replyOnly := n.target()
		in := activities.NotifyInput{Channel: channel, Thread: thread, ReplyOnly: replyOnly, Event: ev}
		var res activities.NotifyResult
		if err := workflow.ExecuteActivity(actx, a.Notify, in).Get(ctx, &res); err != nil {
			st.Failures++
			st.LastError = fmt.Sprintf("%s: %s", ev.Kind, errorMessage(err))
			n.failed(st.LastError)
			workflow.GetLogger(ctx).Warn("notification failed; the workflow goes on", "kind", ev.Kind, "error", err)
		} else if res.Thread != "" && !replyOnly {
			st.Thread = res.Thread
		}
		n.tried++
		n.busy = false
	}
}

// errorMessage is an activity error's message without the SDK's wrapping.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// notifyTarget is the release's channel and thread, or, for a release of a change with a
// Slack thread, the change's thread, in which it only replies.
func (r *release) notifyTarget() (channel, thread string, replyOnly bool) {
	if h := r.in.Hold; h != nil && h.Thread != "" {
		return "", h.Thread, true
	}
	return r.channel(), r.st.Notify.Thread, false
}

// send queues an event; the kind decides whether people hear of it.
func (n *notifier) send(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	if n == nil || !n.enabled {
		return
	}
	n.enqueue(n.build(ctx, kind, by, msg))
}

// enqueue queues an event that is built already.
func (n *notifier) enqueue(ev notify.Event) {
	if n == nil || !n.enabled {
		return
	}
	n.queue = append(n.queue, ev)
}

// notifyEvent is a release event with a snapshot of the release's status.
func (r *release) notifyEvent(ctx workflow.Context, kind timeline.EventKind, by, msg string) notify.Event {
	s := &r.st.Status
	r.st.Notify.Seq++
	ev := notify.Event{
		ReleaseID: s.ReleaseID, FirstRunID: r.firstRunID(), Seq: r.st.Notify.Seq, Kind: kind,
		Time: workflow.Now(ctx), Phase: s.Phase, By: by, Message: msg,
		Service: s.Service, Environment: s.Environment, Version: s.Version, PreviousVersion: s.PreviousVersion,
		StartedBy: s.StartedBy, Started: s.Started, Ended: s.Ended, Desired: s.Desired,
		Batch: s.Batch, Batches: s.Batches, Traffic: s.Traffic, Paused: s.Paused, Error: s.Error,
	}
	if kind == timeline.KindStarted {
		ev.Changelog = r.in.Changelog
	}
	if k := s.Clock; k != nil {
		ev.Waiting, ev.DecideBy = k.Waiting, k.DecideBy
	}
	if p := s.PendingApproval; p != nil {
		ev.Approval = &notify.Approval{Gate: p.Gate, Approvers: r.spec.Canary.Approval.ApproversLabel(), Required: p.Required,
			ApprovedBy: slices.Clone(p.Approvals), Deadline: p.Deadline, OnTimeout: p.OnTimeout}
	}
	return ev
}

// onEvent tells people of the timeline events whose kind says they are told.
func (n *notifier) onEvent(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	if kind.Told() {
		n.send(ctx, kind, by, msg)
	}
}

// flush waits, for a bounded time, until every queued notification has been sent: before
// the workflow ends or continues as new.
func (n *notifier) flush(ctx workflow.Context) {
	if n == nil || !n.enabled {
		return
	}
	_, _ = workflow.AwaitWithTimeout(ctx, 5*time.Minute, func() bool { return len(n.queue) == 0 && !n.busy })
}

func (r *release) channel() string {
	if r.spec.Notify.Slack != nil {
		return r.spec.Notify.Slack.Channel
	}
	return ""
}

// firstRunID is the run ID part of the release's stable key.
func (r *release) firstRunID() string {
	return r.st.Key[len(r.st.Status.ReleaseID)+1:]
}
