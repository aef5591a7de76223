package workflows

import "go.temporal.io/sdk/workflow"

// Every change to workflow code that could affect a release in flight goes behind
// workflow.GetVersion, so a release started by an older worker replays as it ran. The
// change IDs live here, each with why it exists, and readVersions asks for them in the
// order the releases recorded in testdata/histories expect: do not reorder them, and add
// new ones at the end.

// ChangeNotify is the change ID of release notifications (Slack): releases started by a
// worker without them replay without them.
const ChangeNotify = "notify"

// ChangeAnalysisGates is the change ID of the inconclusive and review gates and of the
// analysis between batches and after the promote.
const ChangeAnalysisGates = "analysis-gates"

// ChangeFleetLifecycle is the change ID of PrepareFleet and FinishFleet.
const ChangeFleetLifecycle = "fleet-lifecycle"

// ChangeSoakClock is the change ID of the soak clock that counts intervals as set rather
// than as measured (found by bench/chaos: a worker outage ate soak checks).
const ChangeSoakClock = "soak-clock"

// ChangeValidateInput is the change ID of the release checking its own input (the spec,
// the version) before it changes anything: releases started before it run unchecked.
const ChangeValidateInput = "validate-input"

// ChangeHeldRelease is the change ID of the held mode a change starts its releases in.
const ChangeHeldRelease = "held-release"

// ChangeTrafficSteps is the change ID of traffic steps: the canary takes the shares of
// canary.traffic one step after the other, and the weights are restored on every exit.
const ChangeTrafficSteps = "traffic-steps"

// ChangeClockRules is the change ID of the clock rules: the go/no-go call, windows,
// freezes and the deadline (each checked before the fleet changes).
const ChangeClockRules = "clock-rules"

// ChangeChangeNotify is the change ID of a change's Slack thread (ChangeWorkflow reads it
// first thing, see ChangeWorkflow): changes started before it tell nobody, and their
// releases post in their own threads.
const ChangeChangeNotify = "change-notify"

// ChangeRemind is the change ID of reminders and escalations of human steps (a gate's
// canary.approval.remind, a confirm step's remind); ChangeWorkflow reads it after its
// clock-rules version.
const ChangeRemind = "remind"

// versions says which changes this release runs with.
type versions struct {
	// notify: events are queued and sent to people through the Notify activity.
	notify bool
	// analysisGates: the inconclusive and review gates, and the analysis between batches
	// and after the promote.
	analysisGates bool
	// lifecycle: the fleet (an Auto Scaling group) is held still while the release runs
	// and restored on every exit.
	lifecycle bool
	// soakByChecks: the soak counts each interval as set, not as measured, so that a
	// worker outage cannot skip checks.
	soakByChecks bool
	// validateInput: the release checks its input before it changes anything.
	validateInput bool
	// held: a release of a change holds its old fleet until the change decides.
	held bool
	// traffic: canary.traffic steps are taken.
	traffic bool
	// clock: the clock rules are kept.
	clock bool
	// remind: gates remind and escalate as canary.approval.remind says.
	remind bool
}

// readVersions records (or, on replay, reads) every change's version, in a fixed order.
func readVersions(ctx workflow.Context) versions {
	var v versions
	v.notify = workflow.GetVersion(ctx, ChangeNotify, workflow.DefaultVersion, 1) >= 1
	v.analysisGates = workflow.GetVersion(ctx, ChangeAnalysisGates, workflow.DefaultVersion, 1) >= 1
	v.lifecycle = workflow.GetVersion(ctx, ChangeFleetLifecycle, workflow.DefaultVersion, 1) >= 1
	v.soakByChecks = workflow.GetVersion(ctx, ChangeSoakClock, workflow.DefaultVersion, 1) >= 1
	v.validateInput = workflow.GetVersion(ctx, ChangeValidateInput, workflow.DefaultVersion, 1) >= 1
	v.held = workflow.GetVersion(ctx, ChangeHeldRelease, workflow.DefaultVersion, 1) >= 1
	v.traffic = workflow.GetVersion(ctx, ChangeTrafficSteps, workflow.DefaultVersion, 1) >= 1
	v.clock = workflow.GetVersion(ctx, ChangeClockRules, workflow.DefaultVersion, 1) >= 1
	v.remind = workflow.GetVersion(ctx, ChangeRemind, workflow.DefaultVersion, 1) >= 1
	return v
}
