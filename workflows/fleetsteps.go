package workflows

// Fleet steps: the activities that change or read the fleet, as the phases use them.

import (
	"fmt"
	"slices"
	"time"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// launchHealthy launches count instances of the new version under an idempotency key for
// this step, waits for their health checks and records them as new; they take no
// traffic yet.
func (r *release) launchHealthy(ctx workflow.Context, step string, count int) ([]string, error) {
	return r.launch(ctx, launchStep{
		step: step, version: r.in.Version, image: r.st.Image, count: count,
		launchOpts: longOptions(10 * time.Minute), healthOpts: r.healthOptions(),
		// Recorded before the health wait: if it fails, rollback must know to remove them.
		launched: func(ids []string) { r.st.NewIDs = appendNew(r.st.NewIDs, ids...) },
	})
}

// launchStep is one launch of the release: what, how many, and with which options.
type launchStep struct {
	step, version, image   string
	count                  int
	launchOpts, healthOpts workflow.ActivityOptions
	// launched, when set, sees the new IDs before the health wait.
	launched func(ids []string)
}

// launch launches the instances of a step and waits until they pass their health checks.
func (r *release) launch(ctx workflow.Context, l launchStep) ([]string, error) {
	if l.count == 0 {
		return nil, nil
	}
	var out []fleet.Instance
	in := activities.LaunchInput{Target: r.spec.Target, Key: r.st.Key + "/" + l.step, Version: l.version, Image: l.image, Count: l.count}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, l.launchOpts), a.Launch, in).Get(ctx, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, inst := range out {
		ids[i] = inst.ID
	}
	if l.launched != nil {
		l.launched(ids)
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, l.healthOpts), a.WaitHealthy, r.ids(ids)).Get(ctx, nil); err != nil {
		return nil, err
	}
	return ids, nil
}

func (r *release) hooks(ctx workflow.Context, stage string, hooks []schemas.Hook, ids []string) error {
	for _, h := range hooks {
		opts := workflow.ActivityOptions{
			StartToCloseTimeout: h.TimeoutOrDefault(),
			HeartbeatTimeout:    heartbeatTimeout,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
		}
		in := activities.HookInput{Target: r.spec.Target, Hook: h, Stage: stage, Version: r.in.Version, IDs: ids}
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.RunHook, in).Get(ctx, nil); err != nil {
			if r.abort != nil {
				return err
			}
			return &rollbackError{reason: fmt.Sprintf("%s hook failed: %s", stage, r.reasonFor(err))}
		}
		r.event(ctx, timeline.KindHook, "", fmt.Sprintf("%s hook %s passed on %d instance(s)", stage, h.Label(), len(ids)))
	}
	return nil
}

// attach puts instances behind the load balancer. A load balancer's own health checks
// (an ALB's) may take minutes before Attach returns, so it gets the health wait's options.
func (r *release) attach(ctx workflow.Context, ids []string) error {
	opts := shortOptions()
	if r.v.lifecycle {
		opts = r.healthOptions()
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Attach, r.ids(ids)).Get(ctx, nil)
}

func (r *release) exec(ctx workflow.Context, fn any, in activities.IDsInput) error {
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), fn, in).Get(ctx, nil)
}

func (r *release) ids(ids []string) activities.IDsInput {
	return activities.IDsInput{Target: r.spec.Target, IDs: ids}
}

// describe reads the fleet and refreshes the counts and traffic split in the status.
func (r *release) describe(ctx workflow.Context) (fleet.State, error) {
	var st fleet.State
	in := activities.TargetInput{Target: r.spec.Target}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.Describe, in).Get(ctx, &st); err != nil {
		return st, err
	}
	r.observe(st)
	return st, nil
}

func (r *release) migrate(ctx workflow.Context, ids []string) error {
	m := r.spec.Drain.SessionMigration
	if m == nil || m.Path == "" || len(ids) == 0 {
		return nil
	}
	// Let the load balancer stop routing to them first, so clients reconnect elsewhere.
	if d := r.spec.Drain.DeregistrationDelay.D(); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	in := activities.MigrateInput{Target: r.spec.Target, IDs: ids, Path: m.Path}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.MigrateSessions, in).Get(ctx, nil)
}

// drain waits for the detached old instances to finish their work, then terminates them.
func (r *release) drain(ctx workflow.Context) error {
	r.setPhase(ctx, PhaseDraining)
	if err := r.drainAndTerminate(ctx, r.st.DetachedOld); err != nil {
		return err
	}
	_, err := r.describe(ctx)
	return err
}

func (r *release) drainAndTerminate(ctx workflow.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	timeout := r.spec.Drain.TimeoutOrDefault()
	var res activities.DrainResult
	opts := longOptions(timeout + time.Minute)
	in := activities.DrainInput{Target: r.spec.Target, IDs: ids, Timeout: timeout}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.WaitDrained, in).Get(ctx, &res); err != nil {
		return err
	}
	if res.Drained {
		r.event(ctx, timeline.KindDrained, "", fmt.Sprintf("%d instance(s) drained in %s", len(ids), res.Waited.Round(time.Millisecond)))
	} else {
		r.event(ctx, timeline.KindDrainTimeout, "", fmt.Sprintf("%d connection(s) still open after %s; terminating", res.Open, timeout))
	}
	if err := r.exec(ctx, a.Terminate, r.ids(ids)); err != nil {
		return err
	}
	r.event(ctx, timeline.KindTerminated, "", fmt.Sprintf("terminated %v", ids))
	return nil
}

// prepareFleet holds the fleet still for the release (an Auto Scaling group's own
// launches and terminations would fight it).
func (r *release) prepareFleet(ctx workflow.Context) error {
	if !r.v.lifecycle {
		return nil
	}
	in := activities.PrepareInput{Target: r.spec.Target, Release: r.st.Key}
	r.st.Prepared = true
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.PrepareFleet, in).Get(ctx, nil)
}

// finishFleet restores what prepareFleet held, on every exit. A failure does not change
// the release's outcome; the timeline says what to restore by hand.
func (r *release) finishFleet(ctx workflow.Context, succeeded bool) {
	if !r.v.lifecycle || !r.st.Prepared {
		return
	}
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	in := activities.FinishInput{Target: r.spec.Target, Release: r.st.Key, Succeeded: succeeded, Version: r.in.Version, Image: r.st.Image}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(rctx, rollbackOptions()), a.FinishFleet, in).Get(rctx, nil); err != nil {
		r.event(rctx, timeline.KindFleetNotRestored, "", "fleet not restored: "+r.reasonFor(err)+" (see docs/aws.md to restore it by hand)")
	}
}

// waitResumed blocks while the release is paused.
func (r *release) waitResumed(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return !r.st.Status.Paused })
}

func appendNew(list []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}
