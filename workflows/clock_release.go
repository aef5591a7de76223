package workflows

// The clock rules of a release: built from its spec, kept before the canary and before
// each batch, the deadline watched beside the phases. A held release (one step of a
// change) keeps only freezes: its change owns the call, the window and the deadline.

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
)

func (r *release) newClock() *clock {
	if r.st.Status.Clock == nil {
		r.st.Status.Clock = &ClockStatus{}
	}
	k := &clock{
		id: r.st.Status.ReleaseID, env: r.spec.Environment, policy: r.spec.Canary.Approval,
		noWait: r.in.NoWait, st: r.st.Status.Clock, event: r.event, closed: r.finished, on: r.v.clock,
	}
	if r.in.Hold == nil {
		k.window, k.deadline, k.goNoGo = r.spec.Window, r.spec.Deadline, r.spec.GoNoGo
	}
	k.onWait = func(ctx workflow.Context) {
		if r.st.Status.Phase != PhaseWaiting {
			r.resumePhase = r.st.Status.Phase
			r.setPhase(ctx, PhaseWaiting)
		}
	}
	return k
}

// beforeFleetChange keeps the clock rules before the canary (first) or a batch, and
// starts the deadline once the work has begun.
func (r *release) beforeFleetChange(ctx workflow.Context, first bool) error {
	if err := r.clock.beforeFleetChange(ctx, first); err != nil {
		return err
	}
	if r.st.Status.Phase == PhaseWaiting {
		r.setPhase(ctx, r.resumePhase)
	}
	if first && r.clock.on {
		// The deadline counts from when the work begins: a release started on Friday
		// for Tuesday's window decides by Wednesday 06:00, not Saturday's.
		if err := r.clock.resolveDeadline(workflow.Now(ctx)); err != nil {
			return err
		}
		r.watchDeadline(ctx)
	}
	return nil
}

// watchDeadline rolls the release back at decideBy: the phase in progress is cancelled,
// as an abort does.
func (r *release) watchDeadline(ctx workflow.Context) {
	over := func() bool {
		p := r.st.Status.Phase
		return p.Terminal() || p == PhaseRollingBack || r.abort != nil
	}
	r.clock.watchDeadline(ctx, schemas.RollbackEstimate(&r.spec), over, func(reason string) {
		r.deadlineHit = reason
		if r.cancel != nil {
			r.cancel()
		}
	})
}

func (r *release) clockHandlers(ctx workflow.Context) []func() (receiver, error) {
	k := r.clock
	return []func() (receiver, error){
		func() (receiver, error) {
			return register(ctx, r.refused, message[GoNoGoRequest]{UpdateGoNoGo, k.validateGoNoGo, k.onGoNoGo})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[StartNowRequest]{UpdateStartNow, k.validateStartNow, k.onStartNow})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[ExtendRequest]{UpdateExtend, k.validateExtend, k.onExtend})
		},
	}
}
