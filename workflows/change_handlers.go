package workflows

// What people and releases send a change: the status query, confirm, reject and abort
// (each an update with its validator and a same-named signal), and the held releases'
// word.

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/timeline"
)

// Bounds of what a confirmation may carry.
const (
	maxCommentLen      = 4 << 10
	maxChecklistAnswer = 200
)

func (c *change) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ChangeStatus, error) { return c.st, nil }); err != nil {
		return err
	}
	for _, add := range append([]func() (receiver, error){
		func() (receiver, error) {
			return register(ctx, c.refused, message[ConfirmRequest]{UpdateConfirm, c.validateConfirm, c.onConfirm})
		},
		func() (receiver, error) {
			return register(ctx, c.refused, message[RejectRequest]{UpdateReject, c.validateReject, c.onReject})
		},
		func() (receiver, error) {
			return register(ctx, c.refused, message[AbortRequest]{UpdateAbort, c.validateAbort, c.onAbort})
		},
	}, c.clockHandlers(ctx)...) {
		recv, err := add()
		if err != nil {
			return err
		}
		c.receivers = append(c.receivers, recv)
	}
	held := workflow.GetSignalChannel(ctx, SignalReleaseHeld)
	workflow.Go(ctx, func(ctx workflow.Context) {
		sel := workflow.NewSelector(ctx)
		for _, recv := range c.receivers {
			sel.AddReceive(workflow.GetSignalChannel(ctx, recv.name), func(ch workflow.ReceiveChannel, _ bool) { recv.receive(ctx, ch) })
		}
		sel.AddReceive(held, func(ch workflow.ReceiveChannel, _ bool) {
			var h ReleaseHeld
			ch.Receive(ctx, &h)
			c.onHeld(h)
		})
		for {
			sel.Select(ctx)
		}
	})
	return nil
}

func (c *change) refused(ctx workflow.Context, by, msg string) {
	c.event(ctx, timeline.KindRefused, by, msg)
}

// finished refuses any request once the change has ended, rolls back or was aborted.
func (c *change) finished() error {
	p := c.st.Phase
	switch {
	case p.Terminal():
		return fmt.Errorf("change %s already finished (%s)", c.st.ChangeID, p)
	case p == PhaseRollingBack || c.failure != nil:
		return fmt.Errorf("change %s is already rolling back", c.st.ChangeID)
	case c.abort != nil:
		return fmt.Errorf("change %s was already aborted by %s", c.st.ChangeID, c.abort.By)
	}
	return nil
}

// waitingConfirm returns the confirm step named, which must be waiting for people.
func (c *change) waitingConfirm(id string) (*stepRun, error) {
	s := c.step(id)
	switch {
	case strings.TrimSpace(id) == "":
		return nil, errors.New("step is required: say which confirm step")
	case s == nil:
		return nil, fmt.Errorf("change %s has no step %q", c.st.ChangeID, clipped(id))
	case s.spec.Confirm == nil:
		return nil, fmt.Errorf("step %s is a %s step, not a confirm step", id, s.st.Kind)
	case s.st.State != StepRunning:
		return nil, fmt.Errorf("step %s is not waiting for a confirmation (%s)", id, s.st.State)
	}
	return s, nil
}

// answerable is the confirm step a person answers, while the change can still take it.
func (c *change) answerable(by, step string) (*stepRun, error) {
	if err := requireBy(by); err != nil {
		return nil, err
	}
	if err := c.finished(); err != nil {
		return nil, err
	}
	return c.waitingConfirm(step)
}

func (c *change) validateConfirm(req ConfirmRequest) error {
	s, err := c.answerable(req.By, req.Step)
	if err != nil {
		return err
	}
	var who []string
	for _, cf := range s.st.Confirmations {
		who = append(who, cf.By)
	}
	if err := s.spec.Confirm.Approval().CheckApprove(c.st.ChangeID+" step "+s.spec.ID, req.By, c.st.StartedBy, who); err != nil {
		return err
	}
	if len(req.Comment) > maxCommentLen {
		return fmt.Errorf("comment: %d bytes, at most %d", len(req.Comment), maxCommentLen)
	}
	if len(req.Checklist) > maxChecklistAnswer {
		return fmt.Errorf("checklist: %d answers, the step has %d items", len(req.Checklist), len(s.spec.Confirm.Checklist))
	}
	// Every item answered yes; an item that is not fine is a rejection, with its reason.
	var missing []string
	for _, item := range s.spec.Confirm.Checklist {
		if !req.Checklist[item] {
			missing = append(missing, item)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("checklist: %s not confirmed; answer every item (%s) true, or reject the step with a reason",
			strings.Join(missing, ", "), strings.Join(s.spec.Confirm.Checklist, ", "))
	}
	if len(req.Checklist) > len(s.spec.Confirm.Checklist) {
		return fmt.Errorf("checklist: answers items the step does not have; its items are %s", strings.Join(s.spec.Confirm.Checklist, ", "))
	}
	return nil
}

func (c *change) onConfirm(ctx workflow.Context, req ConfirmRequest) string {
	s := c.step(req.Step)
	s.st.Confirmations = append(s.st.Confirmations, Confirmation{By: req.By, Comment: req.Comment, Time: workflow.Now(ctx)})
	progress := fmt.Sprintf(" (%d of %d)", len(s.st.Confirmations), s.st.Required)
	c.event(ctx, timeline.KindConfirmed, req.By, req.Step+" confirmed"+progress+orEmpty(": ", req.Comment))
	c.changed = true
	return req.Step + " confirmed by " + req.By + progress
}

func (c *change) validateReject(req RejectRequest) error {
	s, err := c.answerable(req.By, req.Step)
	if err != nil {
		return err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errors.New("reason is required: say what is wrong")
	}
	if len(req.Reason) > maxCommentLen {
		return fmt.Errorf("reason: %d bytes, at most %d", len(req.Reason), maxCommentLen)
	}
	return s.spec.Confirm.Approval().CheckActor(c.st.ChangeID+" step "+s.spec.ID, req.By, "reject")
}

func (c *change) onReject(ctx workflow.Context, req RejectRequest) string {
	s := c.step(req.Step)
	s.rejected = &req
	s.st.RejectedBy = req.By
	c.event(ctx, timeline.KindRejected, req.By, req.Step+" rejected: "+req.Reason)
	c.changed = true
	return req.Step + " rejected by " + req.By + "; the change rolls back"
}

func (c *change) validateAbort(req AbortRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if c.st.Phase == PhaseFinalizing || c.st.Phase == PhaseContracting {
		return fmt.Errorf("change %s is %s: its releases are finalizing, too late to roll back", c.st.ChangeID, c.st.Phase)
	}
	return c.finished()
}

func (c *change) onAbort(ctx workflow.Context, req AbortRequest) string {
	c.abort = &req
	c.event(ctx, timeline.KindAborted, req.By, "aborted"+orEmpty(": ", req.Reason))
	c.changed = true
	return "aborted by " + req.By + "; the change rolls back"
}
