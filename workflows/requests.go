package workflows

// What each message people send a release checks, and what it does once accepted.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// finished refuses any request once the release has ended or is rolling back.
func (r *release) finished() error {
	p := r.st.Status.Phase
	switch {
	case p.Terminal():
		return fmt.Errorf("release %s already finished (%s)", r.st.Status.ReleaseID, p)
	case p == PhaseRollingBack:
		return fmt.Errorf("release %s is already rolling back", r.st.Status.ReleaseID)
	case r.abort != nil:
		return fmt.Errorf("release %s was already aborted by %s", r.st.Status.ReleaseID, r.abort.By)
	}
	return nil
}

func requireBy(by string) error {
	if strings.TrimSpace(by) == "" {
		return errors.New("by is required: say who is asking")
	}
	return nil
}

func (r *release) validateApprove(req ApproveRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	pending := r.st.Status.PendingApproval
	if pending == nil {
		return fmt.Errorf("no approval is pending (phase %s)", r.st.Status.Phase)
	}
	if err := r.spec.Canary.Approval.CheckApprove(r.st.Status.ReleaseID, req.By, r.st.Status.StartedBy, pending.Approvals); err != nil {
		return err
	}
	v, err := r.signer(req.Signature, UpdateApprove, req.By)
	if err != nil {
		return err
	}
	return r.fourEyesByKey(v, pending)
}

func (r *release) onApprove(ctx workflow.Context, req ApproveRequest) string {
	pending := r.st.Status.PendingApproval
	v, _ := r.signer(req.Signature, UpdateApprove, req.By) // accepted by the validator
	pending.Approvals = append(pending.Approvals, req.By)
	if v.Name != "" {
		pending.Signers = append(pending.Signers, v)
	}
	progress := ""
	if pending.Required > 1 {
		progress = fmt.Sprintf(" (%d of %d)", len(pending.Approvals), pending.Required)
	}
	msg := "approved" + progress
	if req.Comment != "" {
		msg += ": " + req.Comment
	}
	r.event(ctx, timeline.KindApproved, who(v, req.By), msg)
	return "approved by " + who(v, req.By) + progress
}

func (r *release) validateAbort(req AbortRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	_, err := r.signer(req.Signature, UpdateAbort, req.By)
	return err
}

func (r *release) onAbort(ctx workflow.Context, req AbortRequest) string {
	r.abort = &req
	msg := "aborted"
	if req.Reason != "" {
		msg += ": " + req.Reason
	}
	v, _ := r.signer(req.Signature, UpdateAbort, req.By)
	r.event(ctx, timeline.KindAborted, who(v, req.By), msg)
	r.cancel() // stops the phase in progress; rollback runs on its own context
	return "aborted by " + req.By + "; rolling back"
}

func (r *release) validatePause(req ActorRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	if r.st.Status.Paused {
		return fmt.Errorf("already paused by %s", r.st.Status.PausedBy)
	}
	_, err := r.signer(req.Signature, UpdatePause, req.By)
	return err
}

func (r *release) onPause(ctx workflow.Context, req ActorRequest) string {
	r.st.Status.Paused, r.st.Status.PausedBy = true, req.By
	v, _ := r.signer(req.Signature, UpdatePause, req.By)
	r.event(ctx, timeline.KindPaused, who(v, req.By), "paused: the soak clock stops and no new batch starts until resume")
	return "paused by " + req.By
}

func (r *release) validateResume(req ActorRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	if !r.st.Status.Paused {
		return errors.New("release is not paused")
	}
	_, err := r.signer(req.Signature, UpdateResume, req.By)
	return err
}

func (r *release) onResume(ctx workflow.Context, req ActorRequest) string {
	r.st.Status.Paused, r.st.Status.PausedBy = false, ""
	v, _ := r.signer(req.Signature, UpdateResume, req.By)
	r.event(ctx, timeline.KindResumed, who(v, req.By), "resumed")
	return "resumed by " + req.By
}

func (r *release) validatePromote(req ActorRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	switch r.st.Status.Phase {
	case PhaseSoaking, PhasePromoting:
	case PhaseAwaitingApproval:
		return errors.New("an approval is pending: use approve")
	default:
		return fmt.Errorf("nothing to promote in phase %s", r.st.Status.Phase)
	}
	if r.st.PromoteBy != "" {
		return fmt.Errorf("already promoted by %s", r.st.PromoteBy)
	}
	if err := r.spec.Canary.Approval.CheckActor(r.st.Status.ReleaseID, req.By, "promote"); err != nil {
		return err
	}
	_, err := r.signer(req.Signature, UpdatePromote, req.By)
	return err
}

func (r *release) onPromote(ctx workflow.Context, req ActorRequest) string {
	r.st.PromoteBy = req.By
	v, _ := r.signer(req.Signature, UpdatePromote, req.By)
	r.event(ctx, timeline.KindPromoted, who(v, req.By), "promote: skip the rest of the soak and the pauses between batches")
	return "promoted by " + req.By
}
