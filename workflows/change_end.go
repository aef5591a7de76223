package workflows

// How a change ends: it finalizes its held releases and runs its contracts once every
// step succeeded, or it undoes what was done, in reverse order.

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/timeline"
)

// finalize tells each held release, in the order they were held, to drain and terminate
// its old fleet. From here on the change cannot roll back: a release that fails to
// finalize leaves the change Failed, with what to do by hand.
func (c *change) finalize(ctx workflow.Context) error {
	c.setPhase(ctx, PhaseFinalizing)
	var failed []string
	for _, s := range c.done {
		if s.child == nil {
			continue
		}
		if err := s.child.SignalChildWorkflow(ctx, UpdateFinalize, ActorRequest{By: c.st.ChangeID}).Get(ctx, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: could not finalize: %s", s.st.ReleaseID, c.reasonFor(err)))
			continue
		}
		if err := workflow.Await(ctx, func() bool { return s.childDone }); err != nil {
			return err
		}
		if s.childErr != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", s.st.ReleaseID, c.reasonFor(s.childErr)))
			s.st.State, s.st.Message = StepFailed, c.reasonFor(s.childErr)
			continue
		}
		s.st.State = StepFinalized
		s.st.Message = fmt.Sprintf("%s %s -> %s, finalized", s.st.ReleaseID, orNone(s.st.PreviousVersion), s.st.Version)
	}
	if len(failed) > 0 {
		c.st.LeftToDo = append(c.st.LeftToDo, failed...)
		return fmt.Errorf("finalizing failed: %v", failed)
	}
	return nil
}

// contract runs each migration's contract once every release it waits for has
// finalized and no instance of the version it replaced is alive, as the fleet says.
func (c *change) contract(ctx workflow.Context) error {
	var todo []*stepRun
	for _, s := range c.steps {
		if m := s.spec.Migration; m != nil && len(m.Contract) > 0 {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	c.setPhase(ctx, PhaseContracting)
	var refused []string
	for _, s := range todo {
		m := s.spec.Migration
		if reason := c.oldStillAlive(ctx, m.ContractAfter); reason != "" {
			s.st.Contract = "refused: " + reason
			c.event(ctx, timeline.KindContractRefused, "", fmt.Sprintf("%s: contract not run: %s", s.spec.ID, reason))
			refused = append(refused, fmt.Sprintf("%s: run the contract (%v) by hand once %s", s.spec.ID, m.Contract, reason))
			continue
		}
		if err := c.command(ctx, s, "contract", m.Contract, m.Env, m.TimeoutOrDefault()); err != nil {
			s.st.Contract = "failed: " + c.reasonFor(err)
			refused = append(refused, fmt.Sprintf("%s: the contract failed: %s", s.spec.ID, c.reasonFor(err)))
			continue
		}
		s.st.Contract = "done"
		c.event(ctx, timeline.KindContracted, "", s.spec.ID+": contract done")
	}
	if len(refused) > 0 {
		c.st.LeftToDo = append(c.st.LeftToDo, refused...)
		return fmt.Errorf("contract not done: %v", refused)
	}
	return nil
}

// oldStillAlive reads the fleet of each release step named and says which instance of a
// version other than the one released is still alive, or "" when none is.
func (c *change) oldStillAlive(ctx workflow.Context, releases []string) string {
	for _, id := range releases {
		s := c.step(id)
		if s == nil || s.spec.Release == nil {
			continue
		}
		if s.st.State != StepFinalized {
			return fmt.Sprintf("release step %s did not finalize", id)
		}
		var st fleet.State
		in := activities.TargetInput{Target: s.spec.Release.Spec.Target}
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.Describe, in).Get(ctx, &st); err != nil {
			return fmt.Sprintf("the fleet of %s could not be read: %s", id, c.reasonFor(err))
		}
		for _, inst := range st.Instances {
			if inst.Version != s.st.Version {
				return fmt.Sprintf("%s still has instance %s of %s alive", s.st.ReleaseID, inst.ID, inst.Version)
			}
		}
	}
	return ""
}

// rollback undoes what was done, most recent first: a held release is aborted and
// attaches its old fleet again, an undo command runs; steps with nothing to undo (checks,
// confirmations) and steps that never finished are left alone.
func (c *change) rollback(ctx workflow.Context, reason string) {
	c.setPhase(ctx, PhaseRollingBack)
	c.event(ctx, timeline.KindRollback, "", reason)
	for _, s := range slices.Backward(c.done) {
		switch sp := s.spec; {
		case s.child != nil:
			s.st.State = StepRollingBack
			c.abortChild(ctx, s)
			if s.childErr != nil && (errType(s.childErr) == ErrTypeRolledBack || errType(s.childErr) == ErrTypeAborted) {
				s.st.State, s.st.Message = StepRolledBack, fmt.Sprintf("%s back on %s", s.st.ReleaseID, orNone(s.st.PreviousVersion))
				c.event(ctx, timeline.KindUndone, "", s.spec.ID+": "+s.st.Message)
			} else {
				s.st.State, s.st.Message = StepNotUndone, fmt.Sprintf("%s did not roll back: %s", s.st.ReleaseID, c.childOutcome(s))
				c.st.LeftToDo = append(c.st.LeftToDo, fmt.Sprintf("%s: check the fleet of %s (%s)", s.spec.ID, s.st.ReleaseID, c.childOutcome(s)))
			}
		case sp.Command != nil && len(sp.Command.Undo) > 0:
			c.undo(ctx, s, sp.Command.Undo, sp.Command.Env, sp.Command.TimeoutOrDefault())
		case sp.Migration != nil && len(sp.Migration.Undo) > 0:
			c.undo(ctx, s, sp.Migration.Undo, sp.Migration.Env, sp.Migration.TimeoutOrDefault())
		}
	}
}

func (c *change) undo(ctx workflow.Context, s *stepRun, args, env []string, timeout time.Duration) {
	s.st.State = StepRollingBack
	if err := c.command(ctx, s, "undo", args, env, timeout); err != nil {
		s.st.State, s.st.Message = StepNotUndone, "undo failed: "+c.reasonFor(err)
		c.st.LeftToDo = append(c.st.LeftToDo, fmt.Sprintf("%s: undo by hand (%v): %s", s.spec.ID, args, c.reasonFor(err)))
		return
	}
	s.st.State = StepRolledBack
	c.event(ctx, timeline.KindUndone, "", s.spec.ID+": undone")
}

// abortChild asks a release of the change to roll back and waits until it has ended.
func (c *change) abortChild(ctx workflow.Context, s *stepRun) {
	if !s.childDone {
		req := AbortRequest{By: c.st.ChangeID, Reason: "the change rolls back: " + c.st.Reason}
		if c.st.Reason == "" && c.abort != nil {
			req.Reason = "the change rolls back: " + c.abortReason()
		}
		if err := s.child.SignalChildWorkflow(ctx, UpdateAbort, req).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("abort not delivered", "release", s.st.ReleaseID, "error", err)
		}
	}
	_ = workflow.Await(ctx, func() bool { return s.childDone })
}

func (c *change) childOutcome(s *stepRun) string {
	if s.childErr == nil {
		return "it succeeded"
	}
	return c.reasonFor(s.childErr)
}

// errType is the type of an application error anywhere in err's chain.
func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}
