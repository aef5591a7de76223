package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
)

// ChangeAnalysisGates is the GetVersion change ID of the inconclusive and review gates and
// of the analysis between batches and after the promote.
const ChangeAnalysisGates = "analysis-gates"

// ChangeFleetLifecycle is the GetVersion change ID of PrepareFleet and FinishFleet.
const ChangeFleetLifecycle = "fleet-lifecycle"

// ChangeSoakClock is the GetVersion change ID of the soak clock that counts intervals as
// set rather than as measured (found by bench/chaos: a worker outage ate soak checks).
const ChangeSoakClock = "soak-clock"

// Error types a finished release fails with, so callers (the CLI, CI) tell outcomes apart.
const (
	ErrTypeRolledBack = "RolledBack"
	ErrTypeAborted    = "Aborted"
	ErrTypeFailed     = "Failed"
)

// maxTimeline bounds the timeline carried in state and returned by the status query.
const maxTimeline = 200

// maxChecks bounds the check results kept in status.
const maxChecks = 20

// a is the typed handle for activity method references; it is never called directly.
var a *activities.Activities

// errContinueAsNew asks run to end this run and carry the state into a new one.
var errContinueAsNew = errors.New("continue as new")

// rollbackError says why the release must roll back.
type rollbackError struct{ reason string }

func (e *rollbackError) Error() string { return e.reason }

// release is one run of ReleaseWorkflow: its input, its carried state and the requests
// humans sent it. Only the workflow goroutine and handlers touch it, never concurrently.
type release struct {
	in     ReleaseInput
	spec   schemas.Spec
	st     *ReleaseState
	abort  *AbortRequest
	cancel workflow.CancelFunc // cancels the phase in progress when an abort arrives
	notes  *notifier
	// analysisGates is on for releases started by a worker that has the inconclusive and
	// review gates and the analysis between batches and after the promote.
	analysisGates bool
	// lifecycle is on for releases that hold the fleet (an Auto Scaling group) still
	// while they run and restore it on every exit.
	lifecycle bool
	// soakByChecks is on for releases whose soak counts each interval as set, not as
	// measured, so that a worker outage cannot skip checks.
	soakByChecks bool
	checks       int // soak checks in this run, to bound its history
}

// ReleaseWorkflow releases in.Version of in.Spec: canary, soak, approval, promote,
// drain; any failure or abort rolls the fleet back to the old version.
func ReleaseWorkflow(ctx workflow.Context, in ReleaseInput) (Status, error) {
	r := &release{in: in, spec: in.Spec, st: in.State}
	if r.st == nil {
		info := workflow.GetInfo(ctx)
		now := workflow.Now(ctx)
		r.st = &ReleaseState{
			Key: info.WorkflowExecution.ID + "/" + info.FirstRunID,
			Status: Status{
				ReleaseID:   info.WorkflowExecution.ID,
				Service:     in.Spec.Service,
				Environment: in.Spec.Environment,
				Version:     in.Version,
				Desired:     in.Spec.Target.Instances,
				StartedBy:   in.StartedBy,
				Started:     now,
				Traffic:     map[string]int{},
			},
		}
	} else {
		r.st.Status.Run++
	}
	r.startNotifier(ctx)
	r.analysisGates = workflow.GetVersion(ctx, ChangeAnalysisGates, workflow.DefaultVersion, 1) >= 1
	r.lifecycle = workflow.GetVersion(ctx, ChangeFleetLifecycle, workflow.DefaultVersion, 1) >= 1
	r.soakByChecks = workflow.GetVersion(ctx, ChangeSoakClock, workflow.DefaultVersion, 1) >= 1
	if err := r.registerHandlers(ctx); err != nil {
		return Status{}, err
	}

	phaseCtx, cancel := workflow.WithCancel(ctx)
	r.cancel = cancel
	err := r.run(phaseCtx)
	if errors.Is(err, errContinueAsNew) {
		return Status{}, r.continueAsNew(ctx)
	}
	if err == nil {
		r.finishFleet(ctx, true)
		r.finish(ctx, PhaseSucceeded, "")
		r.notes.flush(ctx)
		return r.st.Status, nil
	}

	// Everything below runs on a context the abort cannot cancel: a rollback must finish.
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	reason := r.reasonFor(err)
	if !r.spec.Rollback.Automatic && r.abort == nil {
		r.st.Status.Error = reason + " (halted: abort to roll back)"
		r.event(rctx, "halted", "", reason+"; rollback.automatic is false: abort to roll back")
		_ = workflow.Await(rctx, func() bool { return r.abort != nil })
		reason = r.reasonFor(err)
	}
	rbErr := r.rollback(rctx, reason)
	r.finishFleet(rctx, false)
	if rbErr != nil {
		r.finish(rctx, PhaseFailed, fmt.Sprintf("%s; rollback failed: %v", reason, rbErr))
		r.notes.flush(rctx)
		return r.st.Status, temporal.NewNonRetryableApplicationError(r.st.Status.Error, ErrTypeFailed, nil, r.st.Status)
	}
	r.finish(rctx, PhaseRolledBack, reason)
	r.notes.flush(rctx)
	kind := ErrTypeRolledBack
	if r.abort != nil {
		kind = ErrTypeAborted
	}
	return r.st.Status, temporal.NewNonRetryableApplicationError(reason, kind, nil, r.st.Status)
}

func (r *release) reasonFor(err error) string {
	if r.abort != nil {
		msg := "aborted by " + r.abort.By
		if r.abort.Reason != "" {
			msg += ": " + r.abort.Reason
		}
		return msg
	}
	var rb *rollbackError
	if errors.As(err, &rb) {
		return rb.reason
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// run walks the phases. A resumed run (after continue-as-new) picks up the soak.
func (r *release) run(ctx workflow.Context) error {
	if r.st.Status.Phase != PhaseSoaking {
		if err := r.plan(ctx); err != nil {
			return err
		}
		if err := r.prepareFleet(ctx); err != nil {
			return err
		}
		if err := r.bake(ctx); err != nil {
			return err
		}
		if err := r.canary(ctx); err != nil {
			return err
		}
		r.setPhase(ctx, PhaseSoaking)
	}
	if err := r.soak(ctx); err != nil {
		return err
	}
	if err := r.approval(ctx, schemas.GateAfterSoak); err != nil {
		return err
	}
	if err := r.review(ctx); err != nil {
		return err
	}
	if err := r.promote(ctx); err != nil {
		return err
	}
	if err := r.postPromotion(ctx); err != nil {
		return err
	}
	return r.drain(ctx)
}

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
	r.notes.send(ctx, notify.KindStarted, r.in.StartedBy, fmt.Sprintf("%s -> %s", orNone(r.st.Status.PreviousVersion), r.in.Version))
	r.event(ctx, "planned", r.in.StartedBy, fmt.Sprintf("%s -> %s: %d old instance(s), canary %d, %d batch(es) of %s, %d wanted",
		orNone(r.st.Status.PreviousVersion), r.in.Version, len(r.st.OldIDs), p.Canary, len(p.Batches), p.Strategy, p.Desired))
	return nil
}

func (r *release) bake(ctx workflow.Context) error {
	r.setPhase(ctx, PhaseBaking)
	var image string
	actx := workflow.WithActivityOptions(ctx, longOptions(max(r.spec.Bake.Timeout.D()+time.Minute, time.Hour)))
	if err := workflow.ExecuteActivity(actx, a.Bake, activities.BakeInput{Spec: r.spec, Version: r.in.Version}).Get(ctx, &image); err != nil {
		return err
	}
	r.st.Image = image
	r.event(ctx, "baked", "", "image "+image)
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
	if err := r.attach(ctx, ids); err != nil {
		return err
	}
	r.event(ctx, "canary", "", fmt.Sprintf("%d canary instance(s) of %s healthy and taking traffic: %v", n, r.in.Version, ids))
	_, err = r.describe(ctx)
	return err
}

// launchHealthy launches count new instances under an idempotency key for this step,
// waits for their health checks and records them as new; they take no traffic yet.
func (r *release) launchHealthy(ctx workflow.Context, step string, count int) ([]string, error) {
	if count == 0 {
		return nil, nil
	}
	var out []fleet.Instance
	in := activities.LaunchInput{Target: r.spec.Target, Key: r.st.Key + "/" + step, Version: r.in.Version, Image: r.st.Image, Count: count}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longOptions(10*time.Minute)), a.Launch, in).Get(ctx, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i, inst := range out {
		ids[i] = inst.ID
	}
	// Record before waiting: if health fails, rollback must know to remove them.
	r.st.NewIDs = appendNew(r.st.NewIDs, ids...)
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, r.healthOptions()), a.WaitHealthy, r.ids(ids)).Get(ctx, nil); err != nil {
		return nil, err
	}
	return ids, nil
}

func (r *release) hooks(ctx workflow.Context, stage string, hooks []schemas.Hook, ids []string) error {
	for _, h := range hooks {
		timeout := h.Timeout.D()
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		opts := workflow.ActivityOptions{
			StartToCloseTimeout: timeout,
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
		r.event(ctx, "hook", "", fmt.Sprintf("%s hook %s passed on %d instance(s)", stage, h.Label(), len(ids)))
	}
	return nil
}

// soak watches the canary for spec.canary.soak on durable timers, checking it every
// analysis interval. Paused time does not count; promote ends it early.
func (r *release) soak(ctx workflow.Context) error {
	soak := r.spec.Canary.Soak.D()
	interval := r.spec.Canary.Analysis.Interval.D()
	if interval <= 0 {
		interval = time.Minute
	}
	perRun := r.in.ChecksPerRun
	if perRun <= 0 {
		perRun = DefaultChecksPerRun
	}
	for r.st.SoakElapsed < soak {
		if r.st.PromoteBy != "" {
			r.event(ctx, "soak-skipped", r.st.PromoteBy, fmt.Sprintf("soak ended early with %s left", soak-r.st.SoakElapsed))
			break
		}
		if r.checks >= perRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return errContinueAsNew
		}
		wait := min(interval, soak-r.st.SoakElapsed)
		r.setSoakClock(ctx, soak)
		start := workflow.Now(ctx)
		fired, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.st.Status.Paused || r.st.PromoteBy != "" })
		measured := workflow.Now(ctx).Sub(start)
		if r.soakByChecks {
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
		r.event(ctx, "check-failed", "", fmt.Sprintf("check %d/%d failed: %s", r.st.Status.FailedChecks, r.spec.Canary.Analysis.FailureLimit, res.Summary))
		if r.st.Status.FailedChecks >= max(1, r.spec.Canary.Analysis.FailureLimit) {
			return &rollbackError{reason: fmt.Sprintf("canary failed %d check(s): %s", r.st.Status.FailedChecks, res.Summary)}
		}
	case VerdictInconclusive:
		r.st.Inconclusive++
		r.st.Status.InconclusiveChecks++
		if r.analysisGates {
			r.event(ctx, "check-inconclusive", "", fmt.Sprintf("check inconclusive (%d so far): %s", r.st.Inconclusive, res.Summary))
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
	r.event(ctx, "approval-requested", "", msg)
	cond := func() bool { return len(pending.Approvals) >= pending.Required }
	var err error
	decided := true
	if timeout > 0 {
		decided, err = workflow.AwaitWithTimeout(ctx, timeout, cond)
	} else {
		err = workflow.Await(ctx, cond)
	}
	r.st.Status.PendingApproval = nil
	if err != nil {
		return err
	}
	if !decided {
		if ap.OnTimeout != schemas.OnTimeoutPromote {
			return &rollbackError{reason: fmt.Sprintf("approval timed out after %s", timeout)}
		}
		r.event(ctx, "approval-timeout", "", fmt.Sprintf("no decision after %s: going on, as onTimeout says", timeout))
	}
	if phase == PhasePromoting || (phase == PhaseSoaking && gate != schemas.GateAfterSoak && gate != GateReview) {
		r.setPhase(ctx, phase)
	}
	return nil
}

// review decides, after a soak with no approval gate, whether promotion starts by
// itself: only when every check passed. Otherwise a human looks first.
func (r *release) review(ctx workflow.Context) error {
	if !r.analysisGates || r.spec.Canary.Approval.HasGate(schemas.GateAfterSoak) {
		return nil
	}
	s := r.st.Status
	if s.FailedChecks == 0 && s.InconclusiveChecks == 0 {
		r.event(ctx, "auto-promote", "", "every check passed: promoting")
		return nil
	}
	return r.gate(ctx, GateReview, fmt.Sprintf("the soak was not clean (%d failed, %d inconclusive checks)", s.FailedChecks, s.InconclusiveChecks))
}

// postPromotion keeps checking the new version after the last batch, while the old fleet
// is still there to take the traffic back at once.
func (r *release) postPromotion(ctx workflow.Context) error {
	d := r.spec.Canary.Analysis.PostPromotion.D()
	if !r.analysisGates || d <= 0 {
		return nil
	}
	interval := max(time.Second, r.spec.Canary.Analysis.Interval.D())
	r.event(ctx, "post-promotion", "", fmt.Sprintf("checking %s for %s before the old fleet drains", r.in.Version, d))
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

// promote moves the rest of the fleet to the new version, rolling or blue/green.
func (r *release) promote(ctx workflow.Context) error {
	r.setPhase(ctx, PhasePromoting)
	p := NewPlan(r.spec, len(r.st.OldIDs))
	r.st.Status.Batches = len(p.Batches)
	if p.Strategy == schemas.StrategyBlueGreen {
		return r.blueGreen(ctx, p)
	}
	for i, b := range p.Batches {
		if err := r.waitResumed(ctx); err != nil {
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
		r.event(ctx, "batch", "", fmt.Sprintf("batch %d/%d: %d new instance(s) attached, %d old still serving", i+1, len(p.Batches), len(ids), r.oldAttached()))
		if r.analysisGates && r.spec.Canary.Analysis.BetweenBatches && i < len(p.Batches)-1 {
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
	r.event(ctx, "flip", "", fmt.Sprintf("traffic flipped to %d x %s; old fleet kept for %s", len(r.st.NewIDs), r.in.Version, r.spec.Promote.KeepOld.D()))
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
	timeout := r.spec.Drain.Timeout.D()
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	var res activities.DrainResult
	opts := longOptions(timeout + time.Minute)
	in := activities.DrainInput{Target: r.spec.Target, IDs: ids, Timeout: timeout}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.WaitDrained, in).Get(ctx, &res); err != nil {
		return err
	}
	if res.Drained {
		r.event(ctx, "drained", "", fmt.Sprintf("%d instance(s) drained in %s", len(ids), res.Waited.Round(time.Millisecond)))
	} else {
		r.event(ctx, "drain-timeout", "", fmt.Sprintf("%d connection(s) still open after %s; terminating", res.Open, timeout))
	}
	if err := r.exec(ctx, a.Terminate, r.ids(ids)); err != nil {
		return err
	}
	r.event(ctx, "terminated", "", fmt.Sprintf("terminated %v", ids))
	return nil
}

// rollback returns the fleet to the old version: old instances take traffic again (new
// ones launched where old ones are gone), then the new instances drain and terminate.
func (r *release) rollback(ctx workflow.Context, reason string) error {
	r.setPhase(ctx, PhaseRollingBack)
	r.st.Status.PendingApproval = nil
	r.event(ctx, "rollback", "", reason)
	ctx = workflow.WithActivityOptions(ctx, rollbackOptions())

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
		var out []fleet.Instance
		in := activities.LaunchInput{Target: r.spec.Target, Key: r.st.Key + "/rollback", Version: r.st.Status.PreviousVersion, Count: missing}
		if err := workflow.ExecuteActivity(ctx, a.Launch, in).Get(ctx, &out); err != nil {
			return err
		}
		ids := make([]string, len(out))
		for i, inst := range out {
			ids[i] = inst.ID
		}
		if err := workflow.ExecuteActivity(ctx, a.WaitHealthy, r.ids(ids)).Get(ctx, nil); err != nil {
			return err
		}
		if err := r.attach(ctx, ids); err != nil {
			return err
		}
		r.event(ctx, "relaunched", "", fmt.Sprintf("relaunched %d x %s", len(ids), r.st.Status.PreviousVersion))
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
	_, err = r.describe(ctx)
	return err
}

// prepareFleet holds the fleet still for the release (an Auto Scaling group's own
// launches and terminations would fight it).
func (r *release) prepareFleet(ctx workflow.Context) error {
	if !r.lifecycle {
		return nil
	}
	in := activities.PrepareInput{Target: r.spec.Target, Release: r.st.Key}
	r.st.Prepared = true
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.PrepareFleet, in).Get(ctx, nil)
}

// finishFleet restores what prepareFleet held, on every exit. A failure does not change
// the release's outcome; the timeline says what to restore by hand.
func (r *release) finishFleet(ctx workflow.Context, succeeded bool) {
	if !r.lifecycle || !r.st.Prepared {
		return
	}
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	in := activities.FinishInput{Target: r.spec.Target, Release: r.st.Key, Succeeded: succeeded, Version: r.in.Version, Image: r.st.Image}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(rctx, rollbackOptions()), a.FinishFleet, in).Get(rctx, nil); err != nil {
		r.event(rctx, "fleet-not-restored", "", "fleet not restored: "+r.reasonFor(err)+" (see docs/aws.md to restore it by hand)")
	}
}

// waitResumed blocks while the release is paused.
func (r *release) waitResumed(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return !r.st.Status.Paused })
}

func (r *release) exec(ctx workflow.Context, fn any, in activities.IDsInput) error {
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), fn, in).Get(ctx, nil)
}

// attach puts instances behind the load balancer. A load balancer's own health checks
// (an ALB's) may take minutes before Attach returns, so it gets the health wait's options.
func (r *release) attach(ctx workflow.Context, ids []string) error {
	opts := shortOptions()
	if r.lifecycle {
		opts = r.healthOptions()
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Attach, r.ids(ids)).Get(ctx, nil)
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

func (r *release) observe(st fleet.State) {
	var counts []VersionCount
	index := map[string]int{}
	attached := 0
	for _, in := range st.Instances {
		i, ok := index[in.Version]
		if !ok {
			i = len(counts)
			index[in.Version] = i
			counts = append(counts, VersionCount{Version: in.Version})
		}
		counts[i].Total++
		if in.Healthy {
			counts[i].Healthy++
		}
		if in.Attached && in.Healthy {
			counts[i].Attached++
			attached++
		}
	}
	traffic := map[string]int{}
	for _, c := range counts {
		if attached > 0 && c.Attached > 0 {
			traffic[c.Version] = c.Attached * 100 / attached
		}
	}
	r.st.Status.Versions = counts
	r.st.Status.Traffic = traffic
	f := st
	r.st.Status.Fleet = &f
}

func (r *release) setPhase(ctx workflow.Context, p Phase) {
	r.phaseEnded(ctx)
	switch {
	case p == PhaseRollingBack:
		r.metrics(ctx).Counter(MetricRollbacks).Inc(1)
	case p.Terminal():
		r.countOutcome(ctx, p)
	}
	r.st.Status.Phase = p
	r.st.Status.Phases = append(r.st.Status.Phases, PhaseRecord{Phase: p, Started: workflow.Now(ctx)})
	r.upsertSearchAttributes(ctx)
	if !p.Terminal() && p != PhasePlanning {
		r.notes.send(ctx, notify.KindPhase, "", "")
	}
}

func (r *release) upsertSearchAttributes(ctx workflow.Context) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		temporal.NewSearchAttributeKeyKeyword(SAService).ValueSet(r.spec.Service),
		temporal.NewSearchAttributeKeyKeyword(SAEnvironment).ValueSet(r.spec.Environment),
		temporal.NewSearchAttributeKeyKeyword(SAVersion).ValueSet(r.in.Version),
		temporal.NewSearchAttributeKeyKeyword(SAPhase).ValueSet(string(r.st.Status.Phase)),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

func (r *release) event(ctx workflow.Context, kind, by, msg string) {
	e := Event{Time: workflow.Now(ctx), Phase: r.st.Status.Phase, Kind: kind, By: by, Message: msg}
	r.st.Status.Timeline = append(r.st.Status.Timeline, e)
	if len(r.st.Status.Timeline) > maxTimeline {
		r.st.Status.Timeline = r.st.Status.Timeline[len(r.st.Status.Timeline)-maxTimeline:]
	}
	workflow.GetLogger(ctx).Info(msg, "kind", kind, "by", by)
	r.notes.onEvent(ctx, kind, by, msg)
}

func (r *release) finish(ctx workflow.Context, p Phase, errMsg string) {
	r.st.Status.Error = errMsg
	if r.abort != nil {
		r.st.Status.AbortedBy = r.abort.By
	}
	r.setPhase(ctx, p)
	r.st.Status.Ended = workflow.Now(ctx)
	msg := fmt.Sprintf("release of %s %s after %s", r.in.Version, p, r.st.Status.Ended.Sub(r.st.Status.Started).Round(time.Second))
	if errMsg != "" {
		msg += ": " + errMsg
	}
	r.event(ctx, string(p), "", msg)
}

// continueAsNew ends this run once no update handler is mid-flight, carrying the state.
func (r *release) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	r.drainSignals(ctx)
	r.notes.flush(ctx)
	next := r.in
	next.State = r.st
	r.event(ctx, "continue-as-new", "", fmt.Sprintf("history kept small: run %d continues with %s of soak left", r.st.Status.Run+1, r.st.Status.SoakRemaining))
	return workflow.NewContinueAsNewError(ctx, ReleaseWorkflowName, next)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func appendNew(list []string, ids ...string) []string {
	for _, id := range ids {
		if !slices.Contains(list, id) {
			list = append(list, id)
		}
	}
	return list
}

// heartbeatTimeout is how soon Temporal retries an activity whose worker died: the
// worker heartbeats every activity every activities.AutoHeartbeatEvery while it runs.
// Activity options are not part of a workflow's determinism; releases in flight take
// the new timeout for the activities they schedule from now on.
const heartbeatTimeout = 10 * time.Second

// Activity options. Activities are idempotent, so retries are safe; configuration
// errors are non-retryable and end the retries at once.
func shortOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	}
}

func longOptions(d time.Duration) workflow.ActivityOptions {
	o := shortOptions()
	o.StartToCloseTimeout = d
	return o
}

// healthOptions leave the activity room to report target.healthTimeout itself, as a
// non-retryable error that names the instances, before Temporal's own timeout.
func (r *release) healthOptions() workflow.ActivityOptions {
	t := r.spec.Target.HealthTimeout.D()
	if t <= 0 {
		t = activities.DefaultHealthTimeout
	}
	return longOptions(t + time.Minute)
}

func rollbackOptions() workflow.ActivityOptions {
	o := longOptions(15 * time.Minute)
	o.RetryPolicy.MaximumAttempts = 20
	return o
}
