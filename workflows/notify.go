package workflows

import (
	"fmt"
	"slices"
	"time"

	"github.com/zerodown/zerodown/timeline"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/notify"
)

// notifier sends release events, in order, from one workflow goroutine, so that telling
// people never blocks or fails the release. Failures are retried, then recorded.
type notifier struct {
	r       *release
	enabled bool
	queue   []notify.Event
	busy    bool
}

func (r *release) startNotifier(ctx workflow.Context) {
	r.notes = &notifier{r: r, enabled: r.v.notify}
	if !r.notes.enabled {
		return
	}
	// Notifications outlive an abort: they run on a context the abort does not cancel.
	nctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(nctx, r.notes.loop)
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
		st := &n.r.st.Notify
		in := activities.NotifyInput{Channel: n.r.channel(), Thread: st.Thread, Event: ev}
		var res activities.NotifyResult
		if err := workflow.ExecuteActivity(actx, a.Notify, in).Get(ctx, &res); err != nil {
			st.Failures++
			st.LastError = fmt.Sprintf("%s: %s", ev.Kind, n.r.reasonFor(err))
			n.r.st.Status.NotifyError = st.LastError
			workflow.GetLogger(ctx).Warn("notification failed; the release goes on", "kind", ev.Kind, "error", err)
		} else if res.Thread != "" {
			st.Thread = res.Thread
		}
		n.busy = false
	}
}

// send queues an event; the kind decides whether people hear of it.
func (n *notifier) send(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	if n == nil || !n.enabled {
		return
	}
	r := n.r
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
	if p := s.PendingApproval; p != nil {
		ev.Approval = &notify.Approval{Gate: p.Gate, Approvers: r.spec.Canary.Approval.ApproversLabel(), Required: p.Required,
			ApprovedBy: slices.Clone(p.Approvals), Deadline: p.Deadline, OnTimeout: p.OnTimeout}
	}
	n.queue = append(n.queue, ev)
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
