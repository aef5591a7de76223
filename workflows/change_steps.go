package workflows

// What each kind of step does when it runs.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	enumspb "go.temporal.io/api/enums/v1"
)

func (c *change) runStep(ctx workflow.Context, s *stepRun) error {
	switch sp := s.spec; {
	case sp.Release != nil:
		return c.runRelease(ctx, s)
	case sp.Command != nil:
		return c.command(ctx, s, "run", sp.Command.Run, sp.Command.Env, sp.Command.TimeoutOrDefault())
	case sp.Check != nil:
		return c.check(ctx, s)
	case sp.Confirm != nil:
		return c.confirm(ctx, s)
	case sp.Migration != nil:
		return c.command(ctx, s, "expand", sp.Migration.Expand, sp.Migration.Env, sp.Migration.TimeoutOrDefault())
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s has no kind", s.spec.ID), ErrTypeInvalidInput, nil)
}

// runRelease starts the step's release as a child in held mode and waits until it holds
// (canary, soak, analysis, approvals and promote all passed) or ends (it rolled back).
func (c *change) runRelease(ctx workflow.Context, s *stepRun) error {
	rs := s.spec.Release
	spec := *rs.Spec
	s.st.ReleaseID, s.st.Version = spec.ID(), rs.Version
	opts := workflow.ChildWorkflowOptions{
		WorkflowID: spec.ID(),
		TaskQueue:  TaskQueue,
		// The change going away (terminated, cancelled) asks its releases to stop: each
		// rolls back by itself. Waiting for that keeps the change's record true.
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
		// A release of the same service and environment already running refuses this one.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword(SAChange).ValueSet(c.spec.Name)),
	}
	thread, err := c.thread(ctx)
	if err != nil {
		return err
	}
	in := ReleaseInput{
		Spec: spec, Version: rs.Version, Changelog: rs.Changelog, StartedBy: c.st.ChangeID,
		Hold: &Hold{ChangeID: c.st.ChangeID, Step: s.spec.ID, Timeout: c.spec.HoldTimeoutOrDefault(), Thread: thread},
	}
	// The child lives as long as the change, not as this step: it is finalized or rolled
	// back later, by the change.
	s.child = workflow.ExecuteChildWorkflow(workflow.WithChildOptions(c.root, opts), ReleaseWorkflowName, in)
	workflow.Go(c.root, func(ctx workflow.Context) {
		var st Status
		s.childErr = s.child.Get(ctx, &st)
		s.childDone = true
		if s.st.PreviousVersion == "" {
			s.st.PreviousVersion = st.PreviousVersion
		}
		c.changed = true
	})
	if err := workflow.Await(ctx, func() bool { return s.held != nil || s.childDone }); err != nil {
		return err
	}
	if s.held == nil {
		if s.childErr == nil {
			return fmt.Errorf("release %s ended without holding for the change", spec.ID())
		}
		return fmt.Errorf("release %s: %s", spec.ID(), c.reasonFor(s.childErr))
	}
	s.st.PreviousVersion = s.held.PreviousVersion
	s.st.Message = fmt.Sprintf("%s %s -> %s, held", spec.ID(), orNone(s.held.PreviousVersion), rs.Version)
	return nil
}

// onHeld records a release's word that it holds.
func (c *change) onHeld(h ReleaseHeld) {
	if s := c.step(h.Step); s != nil && s.spec.Release != nil {
		held := h
		s.held = &held
		c.changed = true
	}
}

// command runs one command of a step (run, expand, undo, contract) on the worker.
func (c *change) command(ctx workflow.Context, s *stepRun, action string, args, env []string, timeout time.Duration) error {
	in := activities.CommandInput{Change: c.st.ChangeID, Step: s.spec.ID, Action: action, Args: args, Env: env, Timeout: timeout}
	var out activities.CommandOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, commandOptions(timeout)), a.RunCommand, in).Get(ctx, &out); err != nil {
		return err
	}
	if action != "contract" { // a contract is told in the step's Contract, beside its expand
		s.st.Message = fmt.Sprintf("%s: exit 0 in %s", action, out.Took.Round(time.Millisecond))
	}
	return nil
}

// check tries the step's sanity test until it passes, Retries more times at most.
func (c *change) check(ctx workflow.Context, s *stepRun) error {
	ck := s.spec.Check
	in := activities.ProbeInput{Change: c.st.ChangeID, Step: s.spec.ID, HTTP: ck.HTTP, Command: ck.Command, Env: ck.Env, Timeout: ck.TimeoutOrDefault()}
	tries := ck.Tries()
	var err error
	for try := 1; try <= tries; try++ {
		if try > 1 {
			if err := workflow.Sleep(ctx, ck.IntervalOrDefault()); err != nil {
				return err
			}
		}
		opts := commandOptions(in.Timeout)
		opts.RetryPolicy.MaximumAttempts = 1 // the tries are the retries
		if err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Probe, in).Get(ctx, nil); err == nil {
			s.st.Message = fmt.Sprintf("passed on try %d of %d", try, tries)
			return nil
		}
		if temporal.IsCanceledError(err) {
			return err
		}
		s.st.Message = fmt.Sprintf("try %d of %d failed: %s", try, tries, c.reasonFor(err))
	}
	return fmt.Errorf("%d tries failed, the last: %s", tries, c.reasonFor(err))
}

// confirm waits for people: Count confirmations from its approvers, each answering every
// item of the checklist, or a rejection, or the timeout.
func (c *change) confirm(ctx workflow.Context, s *stepRun) error {
	cf := s.spec.Confirm
	timeout := cf.TimeoutOrDefault()
	s.st.Required, s.st.Checklist = cf.RequiredConfirmations(), cf.Checklist
	s.st.Deadline = workflow.Now(ctx).Add(timeout)
	c.eventWith(ctx, timeline.KindConfirmAsked, "", c.confirmAsked(s), fmt.Sprintf("%s: waiting for %d confirmation(s) from %s (checklist: %v; timeout %s, then %s)",
		s.spec.ID, s.st.Required, cf.Approval().ApproversLabel(), cf.Checklist, timeout, cf.OnTimeoutOrDefault()))
	c.remindStep(ctx, s, fmt.Sprintf("%s: waiting for confirmation now", s.spec.ID))
	escalateAfter := c.escalateAfter(s)
	decided, err := awaitAnswer(ctx, timeout, escalateAfter, func() bool {
		return s.rejected != nil || len(s.st.Confirmations) >= s.st.Required
	}, func() { c.escalate(ctx, s, escalateAfter) })
	s.st.Deadline = time.Time{}
	switch {
	case err != nil:
		return err
	case s.rejected != nil:
		return fmt.Errorf("rejected by %s: %s", s.rejected.By, s.rejected.Reason)
	case !decided && cf.OnTimeoutOrDefault() != schemas.OnTimeoutConfirm:
		return fmt.Errorf("no confirmation within %s", timeout)
	case !decided:
		s.st.Message = fmt.Sprintf("no answer within %s: confirmed, as onTimeout says", timeout)
	default:
		s.st.Message = fmt.Sprintf("confirmed by %d", len(s.st.Confirmations))
	}
	return nil
}

// commandOptions run a command or a probe for its timeout; a worker that dies is noticed
// by the heartbeat and the command runs again (commands must be safe to re-run, as hooks).
func commandOptions(timeout time.Duration) workflow.ActivityOptions {
	o := longOptions(timeout + time.Minute)
	o.RetryPolicy.MaximumAttempts = 3
	return o
}
