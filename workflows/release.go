package workflows

// ReleaseWorkflow: its entry point, the order of its phases, and how it ends.

import (
	"errors"
	"fmt"
	"time"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Error types a finished release fails with, so callers (the CLI, CI) tell outcomes apart.
const (
	ErrTypeRolledBack = "RolledBack"
	ErrTypeAborted    = "Aborted"
	ErrTypeFailed     = "Failed"
)

// a is the typed handle for activity method references; it is never called directly.
var a *activities.Activities

// errContinueAsNew asks run to end this run and carry the state into a new one.
var errContinueAsNew = errors.New("continue as new")

// rollbackError says why the release must roll back.
type rollbackError struct{ reason string }

func (e *rollbackError) Error() string { return e.reason }

// release is one run of ReleaseWorkflow: its input, its carried state and the requests
// humans sent it. Only the workflow goroutine and handlers touch it, never concurrently.
type release struct {
	in     ReleaseInput
	spec   schemas.Spec
	st     *ReleaseState
	abort  *AbortRequest
	cancel workflow.CancelFunc // cancels the phase in progress when an abort arrives
	notes  *notifier
	v      versions // the workflow changes this release runs with
	checks int      // soak checks in this run, to bound its history
	// receivers apply the signals people send, in the order they were registered.
	receivers []receiver
	// now is the workflow's clock, for the validators (signatures expire).
	now func() time.Time
	// clock keeps the go/no-go call, windows, freezes and the deadline.
	clock *clock
	// resumePhase is the phase a wait of the clock returns to.
	resumePhase Phase
	// deadlineHit says why decideBy rolled the release back.
	deadlineHit string
	// In place: a server move is under way (one at a time), the server a revert is
	// taking back, and why an operator's revert stopped the release.
	moving    bool
	reverting string
	stop      string
}

// ReleaseWorkflow releases in.Version of in.Spec: canary, soak, approval, promote,
// drain; any failure or abort rolls the fleet back to the old version.
func ReleaseWorkflow(ctx workflow.Context, in ReleaseInput) (Status, error) {
	r := &release{in: in, spec: in.Spec, st: in.State, now: func() time.Time { return workflow.Now(ctx) }}
	if r.st == nil {
		info := workflow.GetInfo(ctx)
		now := workflow.Now(ctx)
		r.st = &ReleaseState{
			Key: info.WorkflowExecution.ID + "/" + info.FirstRunID,
			Status: Status{
				ReleaseID:   info.WorkflowExecution.ID,
				Service:     in.Spec.Service,
				Environment: in.Spec.Environment,
				Version:     in.Version,
				Desired:     in.Spec.Target.Instances,
				StartedBy:   in.StartedBy,
				Started:     now,
				Traffic:     map[string]int{},
			},
		}
	} else {
		r.st.Status.Run++
	}
	r.v = readVersions(ctx)
	if r.v.validateInput && in.State == nil {
		spec, err := checkedSpec(in, r.st.Status.ReleaseID)
		if err != nil {
			return r.refuse(ctx, err)
		}
		r.spec = spec
		starter, err := r.starter(in.Signature)
		if err != nil {
			return r.refuse(ctx, err)
		}
		r.st.Starter, r.st.Status.StartedByVerified = starter, who(starter, "")
	}
	r.clock = r.newClock()
	r.startNotifier(ctx)
	if err := r.registerHandlers(ctx); err != nil {
		return Status{}, err
	}

	phaseCtx, cancel := workflow.WithCancel(ctx)
	r.cancel = cancel
	if !r.st.Status.Clock.DecideBy.IsZero() {
		r.watchDeadline(ctx) // a run continued as new watches on
	}
	r.watchSoakReminder(ctx)
	err := r.run(phaseCtx)
	if errors.Is(err, errContinueAsNew) {
		return Status{}, r.continueAsNew(ctx)
	}
	if d := (*deferred)(nil); errors.As(err, &d) {
		// Nothing changed yet: a no-go, or a freeze it was told not to wait for.
		return r.deferRelease(ctx, d.reason)
	}
	if err == nil {
		r.finishFleet(ctx, true)
		r.finish(ctx, PhaseSucceeded, "")
		r.notes.flush(ctx)
		return r.st.Status, nil
	}

	// Everything below runs on a context the abort cannot cancel: a rollback must finish.
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	reason := r.reasonFor(err)
	r.canaryOff(rctx)
	if !r.spec.Rollback.Automatic && r.abort == nil && r.stop == "" {
		r.st.Status.Error = reason + " (halted: abort to roll back)"
		r.event(rctx, timeline.KindHalted, "", reason+"; rollback.automatic is false: abort to roll back")
		_ = workflow.Await(rctx, func() bool { return r.abort != nil })
		reason = r.reasonFor(err)
	}
	rbErr := r.rollback(rctx, reason)
	r.finishFleet(rctx, false)
	if rbErr != nil {
		r.finish(rctx, PhaseFailed, fmt.Sprintf("%s; rollback failed: %v", reason, rbErr))
		r.notes.flush(rctx)
		return r.st.Status, temporal.NewNonRetryableApplicationError(r.st.Status.Error, ErrTypeFailed, nil, r.st.Status)
	}
	r.finish(rctx, PhaseRolledBack, reason)
	r.notes.flush(rctx)
	kind := ErrTypeRolledBack
	if r.abort != nil {
		kind = ErrTypeAborted
	}
	return r.st.Status, temporal.NewNonRetryableApplicationError(reason, kind, nil, r.st.Status)
}

// deferRelease ends a release that changed nothing: Deferred, with the reason.
func (r *release) deferRelease(ctx workflow.Context, reason string) (Status, error) {
	r.finish(ctx, PhaseDeferred, reason)
	r.notes.flush(ctx)
	return r.st.Status, temporal.NewNonRetryableApplicationError(reason, ErrTypeDeferred, nil, r.st.Status)
}

// refuse ends a release whose input is invalid before anything was changed: Failed, with
// the reason in the status and the error, and no retry.
func (r *release) refuse(ctx workflow.Context, err error) (Status, error) {
	r.finish(ctx, PhaseFailed, err.Error())
	return r.st.Status, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil, r.st.Status)
}

func (r *release) reasonFor(err error) string {
	if r.deadlineHit != "" {
		return r.deadlineHit
	}
	if r.abort != nil {
		msg := "aborted by " + r.abort.By
		if r.abort.Reason != "" {
			msg += ": " + r.abort.Reason
		}
		return msg
	}
	if r.stop != "" {
		return r.stop
	}
	var rb *rollbackError
	if errors.As(err, &rb) {
		return rb.reason
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// run walks the phases. A resumed run (after continue-as-new) picks up the soak.
func (r *release) run(ctx workflow.Context) error {
	if r.spec.InPlace() {
		return r.runInPlace(ctx)
	}
	if r.st.Status.Phase != PhaseSoaking {
		if err := r.plan(ctx); err != nil {
			return err
		}
		if err := r.beforeFleetChange(ctx, true); err != nil {
			return err
		}
		if err := r.prepareFleet(ctx); err != nil {
			return err
		}
		if err := r.bake(ctx); err != nil {
			return err
		}
		if err := r.canary(ctx); err != nil {
			return err
		}
		r.setPhase(ctx, PhaseSoaking)
	}
	if err := r.soak(ctx); err != nil {
		return err
	}
	if err := r.approval(ctx, schemas.GateAfterSoak); err != nil {
		return err
	}
	if err := r.review(ctx); err != nil {
		return err
	}
	if err := r.promote(ctx); err != nil {
		return err
	}
	if err := r.postPromotion(ctx); err != nil {
		return err
	}
	if err := r.hold(ctx); err != nil {
		return err
	}
	return r.drain(ctx)
}

func (r *release) finish(ctx workflow.Context, p Phase, errMsg string) {
	r.st.Status.Error = errMsg
	if r.abort != nil {
		r.st.Status.AbortedBy = r.abort.By
	}
	r.setPhase(ctx, p)
	r.st.Status.Ended = workflow.Now(ctx)
	msg := fmt.Sprintf("release of %s %s after %s", r.in.Version, p, r.st.Status.Ended.Sub(r.st.Status.Started).Round(time.Second))
	if errMsg != "" {
		msg += ": " + errMsg
	}
	r.event(ctx, timeline.Outcome(p), "", msg)
}

// continueAsNew ends this run once no update handler is mid-flight, carrying the state.
func (r *release) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && r.reverting == "" }); err != nil {
		return err
	}
	r.drainSignals(ctx)
	r.notes.flush(ctx)
	next := r.in
	next.State = r.st
	r.event(ctx, timeline.KindContinueAsNew, "", fmt.Sprintf("history kept small: run %d continues with %s of soak left", r.st.Status.Run+1, r.st.Status.SoakRemaining))
	return workflow.NewContinueAsNewError(ctx, ReleaseWorkflowName, next)
}
