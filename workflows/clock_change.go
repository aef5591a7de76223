package workflows

// The clock rules of a change: the go/no-go call, the window and freezes are kept before
// its first step; the deadline, watched from then on, rolls everything back. Its
// releases, run held, keep freezes before each of their batches.

import (
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
)

func (c *change) newClock(on bool) *clock {
	if c.st.Clock == nil {
		c.st.Clock = &ClockStatus{}
	}
	k := &clock{
		id: c.st.ChangeID, env: c.spec.Environment, window: c.spec.Window, deadline: c.spec.Deadline, goNoGo: c.spec.GoNoGo,
		noWait: c.in.NoWait, st: c.st.Clock, event: c.event, closed: c.finished, on: on,
	}
	// Who may start now and extend: the go/no-go call's people; anyone without one.
	if g := c.spec.GoNoGo; g != nil {
		k.policy = g.Policy()
	}
	k.onWait = func(ctx workflow.Context) { c.setPhase(ctx, PhaseWaiting) }
	return k
}

// beforeSteps keeps the clock rules before the first step and starts the deadline.
func (c *change) beforeSteps(ctx workflow.Context) error {
	if err := c.clock.beforeFleetChange(ctx, true); err != nil {
		return err
	}
	if !c.clock.on {
		return nil
	}
	if err := c.clock.resolveDeadline(workflow.Now(ctx)); err != nil {
		return err
	}
	over := func() bool {
		p := c.st.Phase
		return p.Terminal() || p == PhaseRollingBack || c.failure != nil || c.abort != nil
	}
	c.clock.watchDeadline(ctx, schemas.ChangeRollbackEstimate(&c.spec), over, func(reason string) {
		c.failure = &stepFailure{reason: reason}
		c.st.FailedStep = schemas.FieldDeadline
		c.changed = true
	})
	return nil
}

func (c *change) clockHandlers(ctx workflow.Context) []func() (receiver, error) {
	k := c.clock
	return []func() (receiver, error){
		func() (receiver, error) {
			return register(ctx, c.refused, message[GoNoGoRequest]{UpdateGoNoGo, k.validateGoNoGo, k.onGoNoGo})
		},
		func() (receiver, error) {
			return register(ctx, c.refused, message[StartNowRequest]{UpdateStartNow, k.validateStartNow, k.onStartNow})
		},
		func() (receiver, error) {
			return register(ctx, c.refused, message[ExtendRequest]{UpdateExtend, k.validateExtend, k.onExtend})
		},
	}
}
