package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// registerHandlers sets up the status query, the updates with their validators, and a
// signal of the same name for each update, for fire-and-forget callers. A signal that
// the validator refuses is recorded in the timeline and otherwise ignored.
func (r *release) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, r.status(ctx)); err != nil {
		return err
	}
	approve := func(ctx workflow.Context, req ApproveRequest) (string, error) { return r.onApprove(ctx, req), nil }
	abort := func(ctx workflow.Context, req AbortRequest) (string, error) { return r.onAbort(ctx, req), nil }
	pause := func(ctx workflow.Context, req ActorRequest) (string, error) { return r.onPause(ctx, req), nil }
	resume := func(ctx workflow.Context, req ActorRequest) (string, error) { return r.onResume(ctx, req), nil }
	promote := func(ctx workflow.Context, req ActorRequest) (string, error) { return r.onPromote(ctx, req), nil }
	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateApprove, approve, func(_ workflow.Context, req ApproveRequest) error { return r.validateApprove(req) }},
		{UpdateAbort, abort, func(_ workflow.Context, req AbortRequest) error { return r.validateAbort(req) }},
		{UpdatePause, pause, func(_ workflow.Context, req ActorRequest) error { return r.validatePause(req) }},
		{UpdateResume, resume, func(_ workflow.Context, req ActorRequest) error { return r.validateResume(req) }},
		{UpdatePromote, promote, func(_ workflow.Context, req ActorRequest) error { return r.validatePromote(req) }},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return err
		}
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		sel := r.signalSelector(ctx)
		for {
			sel.Select(ctx)
		}
	})
	return nil
}

// signals maps each signal name to a receiver that validates and applies it.
func (r *release) signals(ctx workflow.Context) map[string]func(workflow.ReceiveChannel) {
	refuse := func(name, by string, err error) {
		r.event(ctx, "refused", by, fmt.Sprintf("%s signal refused: %v", name, err))
	}
	return map[string]func(workflow.ReceiveChannel){
		UpdateApprove: func(c workflow.ReceiveChannel) {
			var req ApproveRequest
			c.Receive(ctx, &req)
			if err := r.validateApprove(req); err != nil {
				refuse(UpdateApprove, req.By, err)
				return
			}
			r.onApprove(ctx, req)
		},
		UpdateAbort: func(c workflow.ReceiveChannel) {
			var req AbortRequest
			c.Receive(ctx, &req)
			if err := r.validateAbort(req); err != nil {
				refuse(UpdateAbort, req.By, err)
				return
			}
			r.onAbort(ctx, req)
		},
		UpdatePause:   r.actorSignal(ctx, UpdatePause, r.validatePause, r.onPause, refuse),
		UpdateResume:  r.actorSignal(ctx, UpdateResume, r.validateResume, r.onResume, refuse),
		UpdatePromote: r.actorSignal(ctx, UpdatePromote, r.validatePromote, r.onPromote, refuse),
	}
}

func (r *release) actorSignal(ctx workflow.Context, name string, validate func(ActorRequest) error,
	apply func(workflow.Context, ActorRequest) string, refuse func(string, string, error)) func(workflow.ReceiveChannel) {
	return func(c workflow.ReceiveChannel) {
		var req ActorRequest
		c.Receive(ctx, &req)
		if err := validate(req); err != nil {
			refuse(name, req.By, err)
			return
		}
		apply(ctx, req)
	}
}

// signalNames is in a fixed order: ranging over the map would not be deterministic.
var signalNames = []string{UpdateApprove, UpdateAbort, UpdatePause, UpdateResume, UpdatePromote}

func (r *release) signalSelector(ctx workflow.Context) workflow.Selector {
	sel := workflow.NewSelector(ctx)
	receivers := r.signals(ctx)
	for _, name := range signalNames {
		recv := receivers[name]
		sel.AddReceive(workflow.GetSignalChannel(ctx, name), func(c workflow.ReceiveChannel, _ bool) { recv(c) })
	}
	return sel
}

// drainSignals applies signals that arrived but were not yet handled, before the run
// continues as new, so none is lost.
func (r *release) drainSignals(ctx workflow.Context) {
	receivers := r.signals(ctx)
	for _, name := range signalNames {
		c := workflow.GetSignalChannel(ctx, name)
		for c.Len() > 0 {
			receivers[name](c)
		}
	}
}

func (r *release) status(ctx workflow.Context) func() (Status, error) {
	return func() (Status, error) {
		s := r.st.Status
		if s.Phase == PhaseSoaking && !s.Paused && !s.SoakEndsAt.IsZero() {
			s.SoakRemaining = max(0, s.SoakEndsAt.Sub(workflow.Now(ctx)))
		}
		return s, nil
	}
}

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
	return r.spec.Canary.Approval.CheckApprove(r.st.Status.ReleaseID, req.By, r.st.Status.StartedBy, pending.Approvals)
}

func (r *release) onApprove(ctx workflow.Context, req ApproveRequest) string {
	pending := r.st.Status.PendingApproval
	pending.Approvals = append(pending.Approvals, req.By)
	progress := ""
	if pending.Required > 1 {
		progress = fmt.Sprintf(" (%d of %d)", len(pending.Approvals), pending.Required)
	}
	msg := "approved" + progress
	if req.Comment != "" {
		msg += ": " + req.Comment
	}
	r.event(ctx, "approved", req.By, msg)
	return "approved by " + req.By + progress
}

func (r *release) validateAbort(req AbortRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	return r.finished()
}

func (r *release) onAbort(ctx workflow.Context, req AbortRequest) string {
	r.abort = &req
	msg := "aborted"
	if req.Reason != "" {
		msg += ": " + req.Reason
	}
	r.event(ctx, "aborted", req.By, msg)
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
	return nil
}

func (r *release) onPause(ctx workflow.Context, req ActorRequest) string {
	r.st.Status.Paused, r.st.Status.PausedBy = true, req.By
	r.event(ctx, "paused", req.By, "paused: the soak clock stops and no new batch starts until resume")
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
	return nil
}

func (r *release) onResume(ctx workflow.Context, req ActorRequest) string {
	r.st.Status.Paused, r.st.Status.PausedBy = false, ""
	r.event(ctx, "resumed", req.By, "resumed")
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
	return r.spec.Canary.Approval.CheckActor(r.st.Status.ReleaseID, req.By, "promote")
}

func (r *release) onPromote(ctx workflow.Context, req ActorRequest) string {
	r.st.PromoteBy = req.By
	r.event(ctx, "promoted", req.By, "promote: skip the rest of the soak and the pauses between batches")
	return "promoted by " + req.By
}
