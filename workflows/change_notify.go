package workflows

// A change tells people through one Slack thread: its parent message is the table of its
// steps, redrawn at every step's move, and its replies say what happened (a step started,
// done or failed, a confirmation asked with its buttons, the rollback, the end). Its
// releases reply in the same thread (Hold.Thread) instead of opening their own.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/timeline"
)

// maxThreadWait bounds how long a release step waits for the change's thread before it
// starts without it (posting in its own thread, as a release alone does): Notify's retries
// take a few minutes at most.
const maxThreadWait = 5 * time.Minute

// startNotifier starts telling people of the change when its spec names a Slack channel
// (and the worker that started it knew how: the notify version).
func (c *change) startNotifier(ctx workflow.Context, versioned bool) {
	if !versioned || c.spec.Notify.Slack == nil || c.spec.Notify.Slack.Channel == "" {
		return
	}
	c.notes = &notifier{
		enabled: true,
		target:  func() (string, string, bool) { return c.spec.Notify.Slack.Channel, c.notify.Thread, false },
		state:   func() *NotifyState { return &c.notify },
		failed:  func(msg string) { c.st.NotifyError = msg },
	}
	c.notes.start(ctx)
	c.tell(ctx, timeline.KindStarted, c.st.StartedBy,
		fmt.Sprintf("change %s started%s: %d step(s) in %s", c.spec.Name, orEmpty(" by ", c.st.StartedBy), len(c.steps), c.spec.Environment), nil)
}

// tell queues one event of the change with a snapshot of its steps.
func (c *change) tell(ctx workflow.Context, kind timeline.EventKind, by, msg string, confirm *notify.Confirm) {
	if c.notes == nil {
		return
	}
	c.notes.enqueue(c.toldEvent(ctx, kind, by, msg, confirm))
}

// toldEvent is one event of the change with a snapshot of its steps; it takes the next
// Seq, so it must be sent.
func (c *change) toldEvent(ctx workflow.Context, kind timeline.EventKind, by, msg string, confirm *notify.Confirm) notify.Event {
	c.notify.Seq++
	snap := &notify.Change{Name: c.spec.Name, Description: c.spec.Description, Confirm: confirm}
	for i, s := range c.st.Steps {
		if i == notify.MaxToldSteps {
			snap.Hidden = len(c.st.Steps) - i
			break
		}
		detail := s.Message
		if len(detail) > notify.MaxStepDetail {
			detail = detail[:notify.MaxStepDetail]
		}
		snap.Steps = append(snap.Steps, notify.ChangeStep{ID: s.ID, Kind: s.Kind, State: string(s.State), Detail: detail})
	}
	return notify.Event{
		ReleaseID: c.st.ChangeID, FirstRunID: c.firstRunID, Seq: c.notify.Seq, Kind: kind,
		Time: workflow.Now(ctx), Phase: c.st.Phase, By: by, Message: msg,
		Environment: c.spec.Environment, StartedBy: c.st.StartedBy, Started: c.st.Started, Ended: c.st.Ended,
		Error: c.st.Error, Change: snap,
	}
}

// redraw redraws the parent message: a step moved without an event people hear of.
func (c *change) redraw(ctx workflow.Context) {
	c.tell(ctx, timeline.KindPhase, "", "", nil)
}

// confirmAsked describes a confirm step that waits for people, for its buttons.
func (c *change) confirmAsked(s *stepRun) *notify.Confirm {
	cf := s.spec.Confirm
	return &notify.Confirm{
		Step: s.spec.ID, Prompt: cf.Prompt, Approvers: cf.Approval().ApproversLabel(), Required: s.st.Required,
		Checklist: cf.Checklist, Deadline: s.st.Deadline, OnTimeout: cf.OnTimeoutOrDefault(),
	}
}

// thread is the change's Slack thread for a release step to reply in: it waits (bounded)
// for the change's first message to be posted; "" when the change posts nothing.
func (c *change) thread(ctx workflow.Context) (string, error) {
	if c.notes == nil {
		return "", nil
	}
	if c.notes.tried == 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, maxThreadWait, func() bool { return c.notes.tried > 0 }); err != nil {
			return "", err
		}
	}
	return c.notify.Thread, nil
}
