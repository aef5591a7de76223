package workflows

// Gates: canary checks and what they decide, approvals, the review after an unclean
// soak, and the checks after the promote.

import (
	"fmt"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// check runs one canary check; failureLimit failed checks roll back.
func (r *release) check(ctx workflow.Context) error {
	return r.checkStage(ctx, "soak", r.st.CanaryIDs, r.st.OldIDs)
}

// checkStage runs one check of the new instances against a baseline (none after the
// promote); stage says when ("soak", "batch 2", "post-promotion") in the summary.
func (r *release) checkStage(ctx workflow.Context, stage string, canary, baseline []string) error {
	r.checks++
	in := activities.CheckInput{
		Target: r.spec.Target, Analysis: r.spec.Canary.Analysis,
		Version: r.in.Version, BaselineVersion: r.st.Status.PreviousVersion,
		CanaryIDs: canary, BaselineIDs: baseline,
	}
	var out activities.CheckOutput
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.Check, in).Get(ctx, &out); err != nil {
		return err
	}
	r.observe(out.Fleet)
	res := out.Result
	if stage != "soak" {
		res.Summary = stage + ": " + res.Summary
	}
	r.st.Status.Checks = append(r.st.Status.Checks, res)
	if len(r.st.Status.Checks) > maxChecks {
		r.st.Status.Checks = r.st.Status.Checks[len(r.st.Status.Checks)-maxChecks:]
	}
	switch res.Verdict {
	case VerdictFail:
		r.st.Status.FailedChecks++
		r.metrics(ctx).Counter(MetricFailedChecks).Inc(1)
		r.event(ctx, timeline.KindCheckFailed, "", fmt.Sprintf("check %d/%d failed: %s", r.st.Status.FailedChecks, r.spec.Canary.Analysis.FailureLimit, res.Summary))
		if r.st.Status.FailedChecks >= max(1, r.spec.Canary.Analysis.FailureLimit) {
			return &rollbackError{reason: fmt.Sprintf("canary failed %d check(s): %s", r.st.Status.FailedChecks, res.Summary)}
		}
	case VerdictInconclusive:
		r.st.Inconclusive++
		r.st.Status.InconclusiveChecks++
		if r.v.analysisGates {
			r.event(ctx, timeline.KindCheckInconclusive, "", fmt.Sprintf("check inconclusive (%d so far): %s", r.st.Inconclusive, res.Summary))
			if limit := r.spec.Canary.Analysis.InconclusiveLimit; limit > 0 && r.st.Inconclusive > limit {
				if err := r.gate(ctx, GateInconclusive, fmt.Sprintf("%d inconclusive checks, more than inconclusiveLimit %d: approve to go on, abort to roll back", r.st.Inconclusive, limit)); err != nil {
					return err
				}
				r.st.Inconclusive = 0
			}
		}
	default:
		// Passing checks are frequent; the status keeps them, the timeline stays readable.
	}
	return nil
}

// Gates that analysis opens, beside the spec's (schemas.GateAfterSoak, GateBeforeLastBatch).
const (
	// GateInconclusive asks a human when checks stay inconclusive beyond inconclusiveLimit.
	GateInconclusive = "inconclusive"
	// GateReview asks a human when a soak without approval did not pass every check.
	GateReview = "review"
)

// approval waits at a gate of the spec, if the spec has it.
func (r *release) approval(ctx workflow.Context, gate string) error {
	if !r.spec.Canary.Approval.HasGate(gate) {
		return nil
	}
	return r.gate(ctx, gate, "")
}

// gate waits until as many distinct approvers as the spec asks have approved, or the
// approval timeout passes (then onTimeout decides). The release returns to the phase it
// was in, except after the soak, where promotion follows.
func (r *release) gate(ctx workflow.Context, gate, why string) error {
	ap := r.spec.Canary.Approval
	phase := r.st.Status.Phase
	r.setPhase(ctx, PhaseAwaitingApproval)
	now := workflow.Now(ctx)
	pending := &PendingApproval{Gate: gate, Approvers: ap.People(), Required: ap.RequiredApprovals(), Since: now, OnTimeout: ap.OnTimeout, Reason: why}
	timeout := ap.Timeout.D()
	if timeout > 0 {
		pending.Deadline = now.Add(timeout)
	}
	r.st.Status.PendingApproval = pending
	msg := fmt.Sprintf("%s: waiting for %d approval(s) from %s (timeout %s, then %s)", gate, pending.Required, ap.ApproversLabel(), timeout, ap.OnTimeout)
	if why != "" {
		msg = gate + ": " + why + "; " + msg[len(gate)+2:]
	}
	r.event(ctx, timeline.KindApprovalRequested, "", msg)
	r.remindAtOpen(ctx, pending)
	cond := func() bool { return len(pending.Approvals) >= pending.Required }
	escalateAfter := r.escalateAfter()
	decided, err := awaitAnswer(ctx, timeout, escalateAfter, cond, func() { r.escalate(ctx, gate, escalateAfter) })
	r.st.Status.PendingApproval = nil
	if err != nil {
		return err
	}
	if !decided {
		if ap.OnTimeout != schemas.OnTimeoutPromote {
			return &rollbackError{reason: fmt.Sprintf("approval timed out after %s", timeout)}
		}
		r.event(ctx, timeline.KindApprovalTimeout, "", fmt.Sprintf("no decision after %s: going on, as onTimeout says", timeout))
	}
	if phase == PhasePromoting || (phase == PhaseSoaking && gate != schemas.GateAfterSoak && gate != GateReview) {
		r.setPhase(ctx, phase)
	}
	return nil
}

// review decides, after a soak with no approval gate, whether promotion starts by
// itself: only when every check passed. Otherwise a human looks first.
func (r *release) review(ctx workflow.Context) error {
	if !r.v.analysisGates || r.spec.Canary.Approval.HasGate(schemas.GateAfterSoak) {
		return nil
	}
	s := r.st.Status
	if s.FailedChecks == 0 && s.InconclusiveChecks == 0 {
		r.event(ctx, timeline.KindAutoPromote, "", "every check passed: promoting")
		return nil
	}
	return r.gate(ctx, GateReview, fmt.Sprintf("the soak was not clean (%d failed, %d inconclusive checks)", s.FailedChecks, s.InconclusiveChecks))
}

// postPromotion keeps checking the new version after the last batch, while the old fleet
// is still there to take the traffic back at once.
func (r *release) postPromotion(ctx workflow.Context) error {
	d := r.spec.Canary.Analysis.PostPromotion.D()
	if !r.v.analysisGates || d <= 0 {
		return nil
	}
	interval := r.spec.Canary.Analysis.IntervalOrDefault()
	r.event(ctx, timeline.KindPostPromotion, "", fmt.Sprintf("checking %s for %s before the old fleet drains", r.in.Version, d))
	for left := d; left > 0; left -= interval {
		if err := workflow.Sleep(ctx, min(interval, left)); err != nil {
			return err
		}
		if err := r.checkStage(ctx, "post-promotion", r.st.NewIDs, nil); err != nil {
			return err
		}
	}
	return nil
}
