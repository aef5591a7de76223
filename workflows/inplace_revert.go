package workflows

// The revert update: an operator sends one server of an in-place release back to the
// previous version (003's "roll back one server"), then the release goes on with the
// others or stops, which rolls the rest back.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// maxReasonLen bounds a revert's reason, which goes to the timeline and to Slack.
const maxReasonLen = 1024

func (r *release) validateRevert(req RevertRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := r.finished(); err != nil {
		return err
	}
	if !r.spec.InPlace() {
		return errors.New("server: this release does not upgrade servers in place (target.haproxy.servers); abort it to roll back")
	}
	switch {
	case strings.TrimSpace(req.Reason) == "":
		return errors.New("reason is required: say why the server goes back")
	case len(req.Reason) > maxReasonLen:
		return fmt.Errorf("reason: %d bytes, at most %d", len(req.Reason), maxReasonLen)
	}
	switch req.Then {
	case "", ThenContinue, ThenStop:
	default:
		return fmt.Errorf("then: %q; must be %s or %s", clipped(req.Then), ThenContinue, ThenStop)
	}
	s, ok := r.server(req.Server)
	if !ok {
		return fmt.Errorf("server: %q is not in target.haproxy.servers (%s)", clipped(req.Server), strings.Join(r.serverNames(), ", "))
	}
	if r.reverting != "" {
		return fmt.Errorf("server: %s is being reverted; one revert at a time", r.reverting)
	}
	if !slices.Contains(r.st.NewIDs, req.Server) || s.State != ServerServing {
		return fmt.Errorf("server: %s is not serving %s yet (%s on %s): nothing to revert", req.Server, r.in.Version, s.State, orNone(s.Version))
	}
	if r.st.Status.PreviousVersion == "" {
		return errors.New("server: no previous version is known (the servers did not tell theirs when the release began)")
	}
	if req.Then != ThenStop && slices.Contains(r.st.CanaryIDs, req.Server) && r.st.Status.Phase != PhasePromoting {
		return fmt.Errorf("then: %s is the canary and is still being judged; revert it with then %s (or abort)", req.Server, ThenStop)
	}
	_, err := r.signer(req.Signature, UpdateRevert, req.By)
	return err
}

// onRevert starts the revert and answers at once: the revert runs its per-server steps
// in a goroutine of its own (a signal's receiver must not block), one move at a time
// with the release's own.
func (r *release) onRevert(ctx workflow.Context, req RevertRequest) string {
	then := req.Then
	if then == "" {
		then = ThenContinue
	}
	v, _ := r.signer(req.Signature, UpdateRevert, req.By) // accepted by the validator
	by := who(v, req.By)
	r.reverting = req.Server
	r.event(ctx, timeline.KindReverted, by, fmt.Sprintf("reverting %s to %s, then %s: %s", req.Server, r.st.Status.PreviousVersion, then, req.Reason))
	workflow.Go(ctx, func(ctx workflow.Context) { r.revert(ctx, req, then, by) })
	return fmt.Sprintf("reverting %s to %s, then %s", req.Server, r.st.Status.PreviousVersion, then)
}

// revert moves one server back; a failed revert, like a stop, rolls the release back.
func (r *release) revert(ctx workflow.Context, req RevertRequest, then, by string) {
	prev := r.st.Status.PreviousVersion
	err := r.moveServers(ctx, []string{req.Server}, prev, false)
	r.reverting = ""
	if err != nil {
		msg := fmt.Sprintf("revert of %s to %s failed: %s", req.Server, prev, errText(err))
		r.event(ctx, timeline.KindReverted, by, msg)
		r.stopRelease(msg)
		return
	}
	r.st.Reverted = appendNew(r.st.Reverted, req.Server)
	r.setServers([]string{req.Server}, ServerReverted, prev)
	if then == ThenStop {
		msg := fmt.Sprintf("stopped by %s after reverting %s to %s: %s", by, req.Server, prev, req.Reason)
		r.event(ctx, timeline.KindReverted, by, msg)
		r.stopRelease(msg)
		return
	}
	r.event(ctx, timeline.KindReverted, by, fmt.Sprintf("%s reverted to %s; the release goes on with the other servers and ends with %s on %s", req.Server, prev, req.Server, prev))
}

// stopRelease ends the phase in progress; the release rolls back with reason.
func (r *release) stopRelease(reason string) {
	if r.stop == "" {
		r.stop = reason
	}
	r.cancel()
}
