package workflows

// ChangeWorkflow: several releases, commands, checks, people and database migrations of
// one environment, run as a DAG, with one rollback for all. Its entry point, the order of
// its steps and how it ends.

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
)

// change is one run of ChangeWorkflow. Only the workflow's coroutines touch it, one at a
// time.
type change struct {
	in    ChangeInput
	spec  schemas.ChangeSpec
	st    ChangeStatus
	steps []*stepRun // in file order: nothing ever ranges over a map
	// done lists the steps that succeeded, in the order they did: rollback undoes them in
	// reverse.
	done    []*stepRun
	abort   *AbortRequest
	failure *stepFailure
	// changed wakes the scheduler when a step ends or a message arrives.
	changed   bool
	receivers []receiver
	// root starts child releases: their lifetime is the change's, not one step's.
	root workflow.Context
	// clock keeps the go/no-go call, the window, freezes and the deadline.
	clock *clock
	// notes tells people (Slack) of the change, in one thread; nil when it tells nobody.
	notes      *notifier
	notify     NotifyState
	firstRunID string
	// remindOn: confirm steps remind and escalate as their remind blocks say.
	remindOn bool
}

// stepRun is a step while the change runs.
type stepRun struct {
	spec    schemas.Step
	st      *StepStatus
	running bool
	cancel  workflow.CancelFunc
	// A release step's child release.
	child     workflow.ChildWorkflowFuture
	held      *ReleaseHeld
	childDone bool
	childErr  error
	// A confirm step's rejection.
	rejected *RejectRequest
}

// stepFailure is the first step that failed, which rolls the change back.
type stepFailure struct {
	step, reason string
}

// ChangeWorkflow runs a change: its steps in the order their `after` lists allow, then
// it finalizes its held releases, then it runs its contract migrations. Any failure, a
// rejection or an abort rolls back what was done, in reverse order.
func ChangeWorkflow(ctx workflow.Context, in ChangeInput) (ChangeStatus, error) {
	info := workflow.GetInfo(ctx)
	notifyVersion := workflow.GetVersion(ctx, ChangeChangeNotify, workflow.DefaultVersion, 1) >= 1
	c := &change{in: in, spec: in.Spec, root: ctx, firstRunID: info.FirstRunID}
	c.st = ChangeStatus{
		ChangeID: info.WorkflowExecution.ID, Name: in.Spec.Name, Environment: in.Spec.Environment,
		StartedBy: in.StartedBy, Started: workflow.Now(ctx),
	}
	for _, s := range in.Spec.Steps {
		c.st.Steps = append(c.st.Steps, StepStatus{ID: s.ID, Kind: s.Kind(), After: s.After, State: StepWaiting})
	}
	for i := range in.Spec.Steps {
		c.steps = append(c.steps, &stepRun{spec: in.Spec.Steps[i], st: &c.st.Steps[i]})
	}
	if err := checkChange(in, c.st.ChangeID); err != nil {
		c.finish(ctx, PhaseFailed, err.Error())
		return c.st, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil, c.st)
	}
	c.clock = c.newClock(workflow.GetVersion(ctx, ChangeClockRules, workflow.DefaultVersion, 1) >= 1)
	c.remindOn = workflow.GetVersion(ctx, ChangeRemind, workflow.DefaultVersion, 1) >= 1
	if err := c.registerHandlers(ctx); err != nil {
		return ChangeStatus{}, err
	}
	if err := c.beforeSteps(ctx); err != nil {
		if d := (*deferred)(nil); errors.As(err, &d) {
			c.finish(ctx, PhaseDeferred, d.reason)
			return c.st, temporal.NewNonRetryableApplicationError(d.reason, ErrTypeDeferred, nil, c.st)
		}
		return c.failed(ctx, err.Error())
	}
	c.setPhase(ctx, PhaseRunning)
	c.startNotifier(ctx, notifyVersion)

	err := c.run(ctx)
	if err == nil {
		if err := c.finalize(ctx); err != nil {
			return c.failed(ctx, err.Error())
		}
		if err := c.contract(ctx); err != nil {
			return c.failed(ctx, err.Error())
		}
		c.finish(ctx, PhaseSucceeded, "")
		return c.st, nil
	}

	// The rollback runs on a context nothing cancels: it must finish.
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	c.st.Reason = err.Error()
	c.rollback(rctx, err.Error())
	if len(c.st.LeftToDo) > 0 {
		return c.failed(rctx, fmt.Sprintf("%s; the rollback is incomplete", err))
	}
	c.finish(rctx, PhaseRolledBack, err.Error())
	kind := ErrTypeRolledBack
	if c.abort != nil {
		kind = ErrTypeAborted
	}
	return c.st, temporal.NewNonRetryableApplicationError(err.Error(), kind, nil, c.st)
}

// checkChange refuses a change whose input is not what `zerodown change validate`
// accepts, before anything runs; validation is pure code, safe in a workflow.
func checkChange(in ChangeInput, workflowID string) error {
	spec := in.Spec
	if err := schemas.ValidateChange(&spec); err != nil {
		return fmt.Errorf("invalid change: %w", err)
	}
	if id := schemas.ChangeID(spec.Name); workflowID != id {
		return fmt.Errorf("workflow ID %q does not match the change: change %s runs as %q", clipped(workflowID), spec.Name, id)
	}
	if len(in.StartedBy) > maxActorLen {
		return fmt.Errorf("startedBy: %d bytes, at most %d", len(in.StartedBy), maxActorLen)
	}
	return nil
}

// run starts every step whose dependencies have succeeded, until all are done or one
// fails (or an abort arrives); then it stops what still runs and says why.
func (c *change) run(ctx workflow.Context) error {
	for {
		if c.failure == nil && c.abort == nil {
			for _, s := range c.steps {
				if s.st.State == StepWaiting && c.ready(s) {
					c.start(ctx, s)
				}
			}
		}
		if c.failure == nil && c.abort == nil && len(c.done) == len(c.steps) {
			return nil
		}
		if c.failure != nil || c.abort != nil {
			break
		}
		if !c.anyRunning() {
			// Cannot happen with a validated spec (no cycles): never wait for nothing.
			return errors.New("no step can start: the steps' after lists leave some unreachable")
		}
		c.changed = false
		if err := workflow.Await(ctx, func() bool { return c.changed }); err != nil {
			return err
		}
	}
	c.stopRunning(ctx)
	if c.abort != nil {
		return errors.New(c.abortReason())
	}
	if c.failure.step == "" { // the deadline
		return errors.New(c.failure.reason)
	}
	return fmt.Errorf("step %s failed: %s", c.failure.step, c.failure.reason)
}

// ready reports whether every step s waits for has succeeded.
func (c *change) ready(s *stepRun) bool {
	for _, id := range s.spec.After {
		dep := c.step(id)
		if dep == nil || dep.st.State != StepDone {
			return false
		}
	}
	return true
}

func (c *change) step(id string) *stepRun {
	for _, s := range c.steps {
		if s.spec.ID == id {
			return s
		}
	}
	return nil
}

func (c *change) anyRunning() bool {
	for _, s := range c.steps {
		if s.running {
			return true
		}
	}
	return false
}

// start runs one step in its own coroutine, on a context the rollback can cancel.
func (c *change) start(ctx workflow.Context, s *stepRun) {
	sctx, cancel := workflow.WithCancel(ctx)
	s.cancel, s.running = cancel, true
	s.st.State, s.st.Started = StepRunning, workflow.Now(ctx)
	c.event(ctx, timeline.KindStepStarted, "", fmt.Sprintf("%s (%s) started", s.spec.ID, s.st.Kind))
	c.remindExpected(ctx)
	workflow.Go(sctx, func(ctx workflow.Context) {
		err := c.runStep(ctx, s)
		s.running = false
		s.st.Ended = workflow.Now(ctx)
		switch {
		case err == nil:
			s.st.State = StepDone
			c.done = append(c.done, s)
			c.event(ctx, timeline.KindStepDone, "", fmt.Sprintf("%s done%s", s.spec.ID, orEmpty(": ", s.st.Message)))
		case c.failure != nil || c.abort != nil:
			// Stopped by the rollback of another step's failure, or by an abort.
			s.st.State = StepCancelled
			s.st.Message = c.reasonFor(err)
			c.redraw(ctx)
		default:
			s.st.State = StepFailed
			s.st.Message = c.reasonFor(err)
			c.failure = &stepFailure{step: s.spec.ID, reason: s.st.Message}
			c.st.FailedStep = s.spec.ID
			c.event(ctx, timeline.KindStepFailed, "", fmt.Sprintf("%s failed: %s", s.spec.ID, s.st.Message))
		}
		c.changed = true
	})
}

// stopRunning stops the steps still running after a failure or an abort, and waits for
// them: a release still in its canary or soak is aborted and rolls itself back, other
// steps are cancelled (a command is not undone: it did not finish).
func (c *change) stopRunning(ctx workflow.Context) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for _, s := range c.steps {
		if !s.running {
			continue
		}
		if s.child != nil {
			c.abortChild(dctx, s)
		} else {
			s.cancel()
		}
	}
	_ = workflow.Await(dctx, func() bool { return !c.anyRunning() })
}

// failed ends the change as Failed: what was done could not all be undone (or a step
// after the point of no return failed); LeftToDo says what needs a person.
func (c *change) failed(ctx workflow.Context, msg string) (ChangeStatus, error) {
	c.finish(ctx, PhaseFailed, msg)
	return c.st, temporal.NewNonRetryableApplicationError(msg, ErrTypeFailed, nil, c.st)
}

func (c *change) abortReason() string {
	msg := "aborted by " + c.abort.By
	if c.abort.Reason != "" {
		msg += ": " + c.abort.Reason
	}
	return msg
}

func (c *change) reasonFor(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// finish records the outcome.
func (c *change) finish(ctx workflow.Context, p Phase, errMsg string) {
	c.st.Error = errMsg
	if c.abort != nil {
		c.st.AbortedBy = c.abort.By
	}
	for _, s := range c.steps {
		if s.st.State == StepWaiting {
			s.st.State = StepSkipped
		}
	}
	c.setPhase(ctx, p)
	c.st.Ended = workflow.Now(ctx)
	msg := fmt.Sprintf("change %s %s after %s", c.spec.Name, p, c.st.Ended.Sub(c.st.Started).Round(time.Second))
	c.event(ctx, timeline.Outcome(p), "", msg+orEmpty(": ", errMsg))
	c.notes.flush(ctx)
}

func (c *change) setPhase(ctx workflow.Context, p Phase) {
	c.st.Phase = p
	err := workflow.UpsertTypedSearchAttributes(ctx,
		temporal.NewSearchAttributeKeyKeyword(SAChange).ValueSet(c.spec.Name),
		temporal.NewSearchAttributeKeyKeyword(SAEnvironment).ValueSet(c.spec.Environment),
		temporal.NewSearchAttributeKeyKeyword(SAPhase).ValueSet(string(p)),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
	if !p.Terminal() { // the outcome's event redraws the parent
		c.redraw(ctx)
	}
}

func (c *change) event(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	c.eventWith(ctx, kind, by, nil, msg)
}

// eventWith is event with the confirm step a confirm-requested event asks people about.
func (c *change) eventWith(ctx workflow.Context, kind timeline.EventKind, by string, confirm *notify.Confirm, msg string) {
	c.record(ctx, kind, by, msg)
	if kind.Told() {
		c.tell(ctx, kind, by, msg, confirm)
	}
}

// record puts an event on the timeline (and in the log) without telling anyone.
func (c *change) record(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	e := Event{Time: workflow.Now(ctx), Phase: c.st.Phase, Kind: kind, By: by, Message: msg}
	c.st.Timeline = append(c.st.Timeline, e)
	if len(c.st.Timeline) > maxTimeline {
		c.st.Timeline = c.st.Timeline[len(c.st.Timeline)-maxTimeline:]
	}
	workflow.GetLogger(ctx).Info(msg, "kind", kind, "by", by)
}

func orEmpty(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
