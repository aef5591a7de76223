package workflows

// Waiting out a freeze, for whatever is about to change an environment's fleet: a
// scheduled run today; a release or a change when they ask before they change the fleet.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/freeze"
)

// freezeState asks the FreezeState activity whether env is frozen now for target (the
// asker's workflow ID, for its overrides).
func freezeState(ctx workflow.Context, env, target string) (freeze.State, error) {
	var st freeze.State
	actx := workflow.WithActivityOptions(ctx, shortOptions())
	err := workflow.ExecuteActivity(actx, a.FreezeState, activities.FreezeStateInput{Environment: env, Target: target}).Get(ctx, &st)
	if err != nil {
		return st, fmt.Errorf("read the freezes of %s: %w", env, err)
	}
	return st, nil
}

// awaitThaw returns once env is not frozen for target (not frozen, or every freeze in
// force overridden for it), waiting on durable timers for each freeze's end and asking
// again (a freeze may be extended or lifted meanwhile). frozen is told each time it
// finds the environment frozen (for the status). With noWait it returns the frozen state
// at once instead of waiting: the caller refuses or skips.
func awaitThaw(ctx workflow.Context, env, target string, noWait bool, frozen func(freeze.State)) (freeze.State, error) {
	for {
		st, err := freezeState(ctx, env, target)
		if err != nil || !st.Frozen || st.Overridden {
			return st, err
		}
		if frozen != nil {
			frozen(st)
		}
		if noWait {
			return st, nil
		}
		// The activity judged at the wall clock; the timer counts from workflow time, and
		// a freeze ending meanwhile only makes the next question sooner.
		if err := workflow.Sleep(ctx, max(time.Second, st.Until.Sub(workflow.Now(ctx)))); err != nil {
			return st, err
		}
	}
}
