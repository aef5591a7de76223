package workflows

// The promote: rolling batches or a blue/green flip, and detaching the old fleet.

import (
	"fmt"
	"slices"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// promote moves the rest of the fleet to the new version, rolling or blue/green.
func (r *release) promote(ctx workflow.Context) error {
	r.setPhase(ctx, PhasePromoting)
	// After the last traffic step the balancer shares by instance count again, so the
	// new version's share grows batch by batch instead of overloading the last old ones.
	if err := r.clearWeights(ctx); err != nil {
		return err
	}
	p := NewPlan(r.spec, len(r.st.OldIDs))
	r.st.Status.Batches = len(p.Batches)
	if p.Strategy == schemas.StrategyBlueGreen {
		return r.blueGreen(ctx, p)
	}
	for i, b := range p.Batches {
		if err := r.waitResumed(ctx); err != nil {
			return err
		}
		// A window that closed or a freeze declared since the canary pauses the promote
		// before its next batch.
		if err := r.beforeFleetChange(ctx, false); err != nil {
			return err
		}
		// With one batch, "before the last batch" is the moment after the soak: ask once.
		if i == len(p.Batches)-1 && !(i == 0 && r.spec.Canary.Approval.HasGate(schemas.GateAfterSoak)) {
			if err := r.approval(ctx, schemas.GateBeforeLastBatch); err != nil {
				return err
			}
		}
		r.st.Status.Batch = i + 1
		// maxUnavailable lets old instances leave before their replacements are healthy.
		if mu := r.spec.Promote.MaxUnavailable; mu > 0 {
			if err := r.detachOldDownTo(ctx, max(b.OldAttached, r.oldAttached()-mu)); err != nil {
				return err
			}
		}
		ids, err := r.launchHealthy(ctx, fmt.Sprintf("batch-%d", i+1), b.Launch)
		if err != nil {
			return err
		}
		if err := r.hooks(ctx, "preTraffic", r.spec.Hooks.PreTraffic, ids); err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := r.attach(ctx, ids); err != nil {
				return err
			}
		}
		if err := r.detachOldDownTo(ctx, b.OldAttached); err != nil {
			return err
		}
		if _, err := r.describe(ctx); err != nil {
			return err
		}
		r.event(ctx, timeline.KindBatch, "", fmt.Sprintf("batch %d/%d: %d new instance(s) attached, %d old still serving", i+1, len(p.Batches), len(ids), r.oldAttached()))
		if r.v.analysisGates && r.spec.Canary.Analysis.BetweenBatches && i < len(p.Batches)-1 {
			if err := r.checkStage(ctx, fmt.Sprintf("batch %d/%d", i+1, len(p.Batches)), r.st.NewIDs, r.oldServing()); err != nil {
				return err
			}
		}
		if pause := r.spec.Promote.PauseBetweenBatches.D(); pause > 0 && i < len(p.Batches)-1 && r.st.PromoteBy == "" {
			if _, err := workflow.AwaitWithTimeout(ctx, pause, func() bool { return r.st.PromoteBy != "" }); err != nil {
				return err
			}
		}
	}
	return r.hooks(ctx, "postPromote", r.spec.Hooks.PostPromote, r.st.NewIDs)
}

func (r *release) blueGreen(ctx workflow.Context, p Plan) error {
	r.st.Status.Batch = 1
	ids, err := r.launchHealthy(ctx, "green", p.Batches[0].Launch)
	if err != nil {
		return err
	}
	if err := r.hooks(ctx, "preTraffic", r.spec.Hooks.PreTraffic, ids); err != nil {
		return err
	}
	if err := r.waitResumed(ctx); err != nil {
		return err
	}
	if err := r.approval(ctx, schemas.GateBeforeLastBatch); err != nil {
		return err
	}
	// The flip: attach green, then detach blue at once. Blue stays up for instant rollback.
	if len(ids) > 0 {
		if err := r.attach(ctx, ids); err != nil {
			return err
		}
	}
	if err := r.detachOldDownTo(ctx, 0); err != nil {
		return err
	}
	if _, err := r.describe(ctx); err != nil {
		return err
	}
	r.event(ctx, timeline.KindFlip, "", fmt.Sprintf("traffic flipped to %d x %s; old fleet kept for %s", len(r.st.NewIDs), r.in.Version, r.spec.Promote.KeepOld.D()))
	if err := r.hooks(ctx, "postPromote", r.spec.Hooks.PostPromote, r.st.NewIDs); err != nil {
		return err
	}
	if keep := r.spec.Promote.KeepOld.D(); keep > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, keep, func() bool { return r.st.PromoteBy != "" }); err != nil {
			return err
		}
	}
	return nil
}

// oldServing lists old instances still taking traffic.
func (r *release) oldServing() []string {
	var out []string
	for _, id := range r.st.OldIDs {
		if !slices.Contains(r.st.DetachedOld, id) {
			out = append(out, id)
		}
	}
	return out
}

// oldAttached counts old instances still taking traffic.
func (r *release) oldAttached() int { return len(r.st.OldIDs) - len(r.st.DetachedOld) }

// detachOldDownTo detaches old instances, oldest first, until n take traffic, and asks
// them to migrate their sessions to the instances that remain.
func (r *release) detachOldDownTo(ctx workflow.Context, n int) error {
	var ids []string
	for _, id := range r.st.OldIDs {
		if r.oldAttached()-len(ids) <= n {
			break
		}
		if !slices.Contains(r.st.DetachedOld, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := r.exec(ctx, a.Detach, r.ids(ids)); err != nil {
		return err
	}
	r.st.DetachedOld = append(r.st.DetachedOld, ids...)
	return r.migrate(ctx, ids)
}
