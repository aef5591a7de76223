package workflows

// The held mode: a release that is one step of a change keeps its old fleet after the
// promote, so that the whole change can still roll back at once, until the change says.

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/timeline"
)

// hold waits, after the promote, for the change to finalize the release. The old
// instances stay detached but alive meanwhile; a rollback (the change's abort, or the
// timeout) attaches them again.
func (r *release) hold(ctx workflow.Context) error {
	h := r.in.Hold
	if h == nil || !r.v.held {
		return nil
	}
	r.setPhase(ctx, PhaseHeld)
	r.event(ctx, timeline.KindHeld, "", fmt.Sprintf("held for %s: %d old instance(s) stay ready to take the traffic back until it finalizes (at most %s)",
		h.ChangeID, len(r.st.DetachedOld), h.Timeout))
	held := ReleaseHeld{Step: h.Step, ReleaseID: r.st.Status.ReleaseID, Version: r.in.Version, PreviousVersion: r.st.Status.PreviousVersion}
	if err := workflow.SignalExternalWorkflow(ctx, h.ChangeID, "", SignalReleaseHeld, held).Get(ctx, nil); err != nil {
		// The change is gone: the timeout below rolls the release back.
		r.event(ctx, timeline.KindHeld, "", fmt.Sprintf("could not tell %s: %s", h.ChangeID, r.reasonFor(err)))
	}
	finalized, err := workflow.AwaitWithTimeout(ctx, h.Timeout, func() bool { return r.st.FinalizeBy != "" })
	if err != nil {
		return err // an abort (the change rolling back) cancelled the wait
	}
	if !finalized {
		return &rollbackError{reason: fmt.Sprintf("%s did not finalize the release within %s", h.ChangeID, h.Timeout)}
	}
	r.event(ctx, timeline.KindFinalized, r.st.FinalizeBy, "finalized: the old instances drain")
	return nil
}

func (r *release) validateFinalize(req ActorRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	if r.st.Status.Phase != PhaseHeld {
		return fmt.Errorf("nothing to finalize in phase %s: only a held release of a change is finalized", r.st.Status.Phase)
	}
	return nil
}

func (r *release) onFinalize(_ workflow.Context, req ActorRequest) string {
	r.st.FinalizeBy = req.By
	return "finalized by " + req.By
}
