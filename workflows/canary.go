package workflows

// The first phases: plan, bake, the canary and its soak.

import (
	"fmt"
	"time"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

func (r *release) plan(ctx workflow.Context) error {
	r.setPhase(ctx, PhasePlanning)
	st, err := r.describe(ctx)
	if err != nil {
		return err
	}
	// The old fleet is what serves now; its most common version is the previous one.
	counts := map[string]int{}
	for _, in := range st.Instances {
		if in.Attached {
			r.st.OldIDs = append(r.st.OldIDs, in.ID)
			counts[in.Version]++
		}
	}
	for _, in := range st.Instances {
		if in.Attached && counts[in.Version] > counts[r.st.Status.PreviousVersion] {
			r.st.Status.PreviousVersion = in.Version
		}
	}
	p := NewPlan(r.spec, len(r.st.OldIDs))
	r.st.Status.Batches = len(p.Batches)
	r.notes.send(ctx, timeline.KindStarted, r.in.StartedBy, fmt.Sprintf("%s -> %s", orNone(r.st.Status.PreviousVersion), r.in.Version))
	r.event(ctx, timeline.KindPlanned, r.in.StartedBy, fmt.Sprintf("%s -> %s: %d old instance(s), canary %d, %d batch(es) of %s, %d wanted",
		orNone(r.st.Status.PreviousVersion), r.in.Version, len(r.st.OldIDs), p.Canary, len(p.Batches), p.Strategy, p.Desired))
	return nil
}

func (r *release) bake(ctx workflow.Context) error {
	r.setPhase(ctx, PhaseBaking)
	var image string
	actx := workflow.WithActivityOptions(ctx, longOptions(max(r.spec.Bake.TimeoutOrDefault()+time.Minute, time.Hour)))
	if err := workflow.ExecuteActivity(actx, a.Bake, activities.BakeInput{Spec: r.spec, Version: r.in.Version}).Get(ctx, &image); err != nil {
		return err
	}
	r.st.Image = image
	r.event(ctx, timeline.KindBaked, "", "image "+image)
	return nil
}

func (r *release) canary(ctx workflow.Context) error {
	r.setPhase(ctx, PhaseCanary)
	n := r.spec.CanaryCount()
	ids, err := r.launchHealthy(ctx, "canary", n)
	if err != nil {
		return err
	}
	r.st.CanaryIDs = ids
	if err := r.hooks(ctx, "preTraffic", r.spec.Hooks.PreTraffic, ids); err != nil {
		return err
	}
	// A stepped canary takes its first share from its first request.
	if err := r.enterTrafficStep(ctx); err != nil {
		return err
	}
	if err := r.attach(ctx, ids); err != nil {
		return err
	}
	r.event(ctx, timeline.KindCanary, "", fmt.Sprintf("%d canary instance(s) of %s healthy and taking traffic: %v", n, r.in.Version, ids))
	_, err = r.describe(ctx)
	return err
}

// soak watches the canary for spec.canary.soak on durable timers, checking it every
// analysis interval. Paused time does not count; promote ends it early.
func (r *release) soak(ctx workflow.Context) error {
	soak := r.spec.Canary.Soak.D()
	interval := r.spec.Canary.Analysis.IntervalOrDefault()
	perRun := r.in.ChecksPerRun
	if perRun <= 0 {
		perRun = DefaultChecksPerRun
	}
	for r.st.SoakElapsed < soak {
		if r.st.PromoteBy != "" {
			r.event(ctx, timeline.KindSoakSkipped, r.st.PromoteBy, fmt.Sprintf("soak ended early with %s left", soak-r.st.SoakElapsed))
			break
		}
		if r.checks >= perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return errContinueAsNew
		}
		wait := min(interval, soak-r.st.SoakElapsed)
		if r.stepped() {
			if err := r.enterTrafficStep(ctx); err != nil {
				return err
			}
			wait = min(wait, r.untilNextStep())
		}
		r.setSoakClock(ctx, soak)
		start := workflow.Now(ctx)
		fired, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.st.Status.Paused || r.st.PromoteBy != "" })
		measured := workflow.Now(ctx).Sub(start)
		if r.v.soakByChecks {
			// A timer that fired late (the worker was down) counts only the interval it
			// was set for: an outage lengthens the soak instead of eating its checks.
			measured = min(measured, wait)
		}
		r.st.SoakElapsed += measured
		if err != nil {
			return err
		}
		if fired {
			if r.st.Status.Paused {
				r.st.Status.SoakEndsAt = time.Time{}
				if err := r.waitResumed(ctx); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.check(ctx); err != nil {
			return err
		}
	}
	r.st.Status.SoakRemaining = 0
	r.st.Status.SoakEndsAt = time.Time{}
	return nil
}

func (r *release) setSoakClock(ctx workflow.Context, soak time.Duration) {
	left := max(0, soak-r.st.SoakElapsed)
	r.st.Status.SoakRemaining = left
	r.st.Status.SoakEndsAt = workflow.Now(ctx).Add(left)
}
