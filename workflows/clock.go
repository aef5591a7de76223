package workflows

// The clock rules a release and a change share: the go/no-go call, windows, freezes and
// the deadline. Each waits on durable timers; every instant comes from workflow.Now and
// the spec, so a replay computes the same ones.

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/timerules"
)

// freezePoll is how often a release waiting for a freeze asks again: a freeze can be
// lifted or extended before its end.
const freezePoll = time.Minute

// clock applies the clock rules of one release or change.
type clock struct {
	id, env  string
	window   []timerules.Window
	deadline *timerules.Deadline
	goNoGo   *schemas.GoNoGo
	// policy says who may start now, extend the deadline, and whose freeze overrides
	// count.
	policy schemas.Approval
	// noWait refuses (Deferred) at a freeze instead of waiting for it to lift.
	noWait bool
	st     *ClockStatus
	event  func(ctx workflow.Context, kind timeline.EventKind, by, msg string)
	// closed refuses requests once the owner has ended or rolls back.
	closed func() error
	// onWait is called when a wait begins (the owner shows phase Waiting).
	onWait func(ctx workflow.Context)
	// on: the owner runs with the clock rules (GetVersion clock-rules).
	on bool
}

// deferred ends a release or change before it changed anything: a no-go, or a freeze
// it was told not to wait for.
type deferred struct{ reason string }

func (d *deferred) Error() string { return d.reason }

// beforeFleetChange waits for what the clock says before the fleet changes: the go/no-go
// call (the first time only), an open window, and no freeze in force.
func (k *clock) beforeFleetChange(ctx workflow.Context, first bool) error {
	if !k.on {
		return nil
	}
	if first {
		if err := k.call(ctx); err != nil {
			return err
		}
	}
	if err := k.waitWindow(ctx); err != nil {
		return err
	}
	return k.waitFreeze(ctx, first)
}

// waitWindow waits until a window of the spec is open, unless an approver said
// start-now.
func (k *clock) waitWindow(ctx workflow.Context) error {
	for len(k.window) > 0 && k.st.StartNowBy == "" {
		now := workflow.Now(ctx)
		if timerules.Open(k.window, now) {
			return nil
		}
		at, err := timerules.NextOpen(k.window, now)
		if err != nil {
			return err
		}
		k.waiting(ctx, timerules.WaitingText(k.window, now), at)
		if _, err := workflow.AwaitWithTimeout(ctx, at.Sub(now), func() bool { return k.st.StartNowBy != "" }); err != nil {
			return err
		}
	}
	k.doneWaiting()
	return nil
}

// waitFreeze asks whether the environment is frozen and waits for the freeze to lift
// (or ends Deferred with noWait at the start). An override by one of the approvers lets
// it pass, and says so in the timeline.
func (k *clock) waitFreeze(ctx workflow.Context, first bool) error {
	for {
		st, err := freezeState(ctx, k.env, k.id)
		if err != nil {
			return err
		}
		if !st.Frozen {
			k.doneWaiting()
			return nil
		}
		if st.Overridden && k.overridesAllowed(st) {
			by, why := overrideText(st)
			if k.st.FreezeOverride == "" {
				k.st.FreezeOverride = by + ": " + why
				k.event(ctx, timeline.KindFreezeOverridden, by, fmt.Sprintf("passes the freeze of %s (%s): %s", k.env, st.Reason, why))
			}
			k.doneWaiting()
			return nil
		}
		what := fmt.Sprintf("%s is frozen until %s: %s", k.env, st.Until.UTC().Format(time.RFC3339), st.Reason)
		if first && k.noWait {
			return &deferred{reason: what + " (not waiting: --no-wait)"}
		}
		now := workflow.Now(ctx)
		k.waiting(ctx, "waiting for the freeze to lift: "+what, st.Until)
		wait := freezePoll
		if left := st.Until.Sub(now); left > 0 && left < wait {
			wait = left
		}
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// overridesAllowed: each override of the freezes in force was given by someone the
// approval policy names, signed when the policy asks for signatures (checked as of when
// it was given: a signature lasts minutes, an override the whole freeze).
func (k *clock) overridesAllowed(st freeze.State) bool {
	for _, o := range st.Overrides {
		if !k.policy.Eligible(o.By) {
			return false
		}
		want := signing.Expected{Release: k.id, Action: signing.ActionOverride, Signer: o.By}
		if _, err := k.policy.CheckSignature(o.Signature, want, o.At); err != nil {
			return false
		}
	}
	return len(st.Overrides) > 0
}

// overrideText is who overrode the freezes in force, and why.
func overrideText(st freeze.State) (by, why string) {
	var who, reasons []string
	for _, o := range st.Overrides {
		who, reasons = append(who, o.By), append(reasons, o.Reason)
	}
	return strings.Join(who, ", "), strings.Join(reasons, "; ")
}

// waiting says in the status, once per reason, what the release waits for and until when.
func (k *clock) waiting(ctx workflow.Context, what string, until time.Time) {
	if k.st.Waiting == what {
		return
	}
	k.st.Waiting, k.st.WaitingUntil = what, until
	if k.onWait != nil {
		k.onWait(ctx)
	}
	k.event(ctx, timeline.KindWaiting, "", what)
}

func (k *clock) doneWaiting() { k.st.Waiting, k.st.WaitingUntil = "", time.Time{} }
