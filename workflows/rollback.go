package workflows

// The rollback: old instances take the traffic back, the new ones drain and go.

import (
	"fmt"

	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// rollback returns the fleet to the old version: old instances take traffic again (new
// ones launched where old ones are gone), then the new instances drain and terminate.
func (r *release) rollback(ctx workflow.Context, reason string) error {
	if r.spec.InPlace() {
		return r.rollbackInPlace(ctx, reason)
	}
	r.setPhase(ctx, PhaseRollingBack)
	r.st.Status.PendingApproval = nil
	r.event(ctx, timeline.KindRollback, "", reason)

	st, err := r.describe(ctx)
	if err != nil {
		return err
	}
	var alive []string
	for _, id := range r.st.OldIDs {
		if inst, ok := st.Find(id); ok && inst.Healthy {
			alive = append(alive, id)
		}
	}
	if len(alive) > 0 {
		if err := r.attach(ctx, alive); err != nil {
			return err
		}
	}
	// Old instances that are gone are relaunched from the previous version.
	if missing := len(r.st.OldIDs) - len(alive); missing > 0 && r.st.Status.PreviousVersion != "" {
		ids, err := r.launch(ctx, launchStep{
			step: "rollback", version: r.st.Status.PreviousVersion, count: missing,
			launchOpts: rollbackOptions(), healthOpts: rollbackOptions(),
		})
		if err != nil {
			return err
		}
		if err := r.attach(ctx, ids); err != nil {
			return err
		}
		r.event(ctx, timeline.KindRelaunched, "", fmt.Sprintf("relaunched %d x %s", len(ids), r.st.Status.PreviousVersion))
	}
	r.st.DetachedOld = nil

	if len(r.st.NewIDs) > 0 {
		if err := r.exec(ctx, a.Detach, r.ids(r.st.NewIDs)); err != nil {
			return err
		}
		if err := r.migrate(ctx, r.st.NewIDs); err != nil {
			return err
		}
		if err := r.drainAndTerminate(ctx, r.st.NewIDs); err != nil {
			return err
		}
	}
	if err := r.clearWeights(ctx); err != nil {
		return err
	}
	_, err = r.describe(ctx)
	return err
}
