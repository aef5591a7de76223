// Package timeline is the vocabulary a release is told in: the phases it passes through
// and the kinds of events on its timeline. The workflow writes them and notify tells people
// about them; both import this leaf package, so each word is declared once and a renamed
// kind cannot silently stop reaching Slack.
package timeline

// Phase is where a release is.
type Phase string

// The phases, in the order a successful release passes them.
const (
	PhasePlanning         Phase = "Planning"
	PhaseBaking           Phase = "Baking"
	PhaseCanary           Phase = "Canary"
	PhaseSoaking          Phase = "Soaking"
	PhaseAwaitingApproval Phase = "AwaitingApproval"
	PhasePromoting        Phase = "Promoting"
	PhaseDraining         Phase = "Draining"
	// PhaseHeld: a release of a change has promoted and keeps its old instances, detached
	// but alive, until the change finalizes it (drain them) or rolls it back (attach them).
	PhaseHeld Phase = "Held"

	// A change's own phases, beside Succeeded, RollingBack, RolledBack and Failed: its
	// steps run, then its held releases are finalized, then its contract migrations run.
	PhaseRunning     Phase = "Running"
	PhaseFinalizing  Phase = "Finalizing"
	PhaseContracting Phase = "Contracting"
	PhaseSucceeded   Phase = "Succeeded"
	PhaseRollingBack Phase = "RollingBack"
	PhaseRolledBack  Phase = "RolledBack"
	PhaseFailed      Phase = "Failed"
	// PhaseDeferred: a no-go, or a freeze it was told not to wait for, ended it before
	// anything changed.
	PhaseDeferred Phase = "Deferred"
	// PhaseWaiting: waiting for the go/no-go call, a window or a freeze to lift, before the
	// fleet changes.
	PhaseWaiting Phase = "Waiting"
)

// Terminal reports whether the release has ended.
func (p Phase) Terminal() bool {
	return p == PhaseSucceeded || p == PhaseRolledBack || p == PhaseFailed || p == PhaseDeferred
}

// EventKind is what happened on a release's timeline.
type EventKind string

// The kinds of timeline events. Those marked "told" also reach people (Slack); the
// others stay in the timeline and the status.
const (
	KindStarted EventKind = "started" // told: opens the release's thread, with the changelog
	KindPhase   EventKind = "phase"   // told: only redraws the thread's parent message

	KindPlanned           EventKind = "planned"
	KindBaked             EventKind = "baked"
	KindCanary            EventKind = "canary" // told: the canary is healthy and takes traffic
	KindHook              EventKind = "hook"
	KindSoakSkipped       EventKind = "soak-skipped" // told
	KindCheckFailed       EventKind = "check-failed" // told
	KindCheckInconclusive EventKind = "check-inconclusive"
	KindAutoPromote       EventKind = "auto-promote"
	KindPostPromotion     EventKind = "post-promotion"
	KindBatch             EventKind = "batch" // told
	KindFlip              EventKind = "flip"  // told
	KindDrained           EventKind = "drained"
	KindDrainTimeout      EventKind = "drain-timeout"
	KindTerminated        EventKind = "terminated"
	KindRollback          EventKind = "rollback" // told: rolling back, and why
	KindRelaunched        EventKind = "relaunched"
	KindHalted            EventKind = "halted" // told
	KindFleetNotRestored  EventKind = "fleet-not-restored"
	KindContinueAsNew     EventKind = "continue-as-new"
	KindRefused           EventKind = "refused"
	KindApprovalRequested EventKind = "approval-requested" // told
	KindApproved          EventKind = "approved"           // told
	KindApprovalTimeout   EventKind = "approval-timeout"   // told
	KindAborted           EventKind = "aborted"            // told
	KindPaused            EventKind = "paused"             // told
	KindResumed           EventKind = "resumed"            // told
	KindPromoted          EventKind = "promoted"           // told
	KindHeld              EventKind = "held"               // told: waiting for the change
	KindFinalized         EventKind = "finalized"
	KindTraffic           EventKind = "traffic" // told: the canary's share of requests changed

	// The clock rules: waits, the go/no-go call, the deadline, freezes.
	KindWaiting          EventKind = "waiting" // told: for the window, a freeze, the call
	KindStartNow         EventKind = "start-now"
	KindGoNoGoAsked      EventKind = "go-no-go-requested" // told
	KindGo               EventKind = "go"                 // told
	KindNoGo             EventKind = "no-go"              // told
	KindDeadline         EventKind = "deadline"           // told: decideBy reached
	KindExtended         EventKind = "extended"           // told
	KindFreezeOverridden EventKind = "freeze-overridden"  // told

	// In place (fixed servers upgraded where they stand).
	KindServer   EventKind = "server"   // one server is back in service on a version
	KindReverted EventKind = "reverted" // told: an operator sent one server back

	// People in time: a human step expected soon, and one nobody answered in time.
	KindReminder  EventKind = "reminder"  // told: mentions the step's people
	KindEscalated EventKind = "escalated" // told: mentions whom it escalates to

	// Kinds of a change's timeline.
	KindStepStarted     EventKind = "step-started"      // told
	KindStepDone        EventKind = "step-done"         // told
	KindStepFailed      EventKind = "step-failed"       // told
	KindConfirmAsked    EventKind = "confirm-requested" // told
	KindConfirmed       EventKind = "confirmed"         // told
	KindRejected        EventKind = "rejected"          // told
	KindUndone          EventKind = "undone"            // told
	KindContracted      EventKind = "contracted"        // told
	KindContractRefused EventKind = "contract-refused"  // told

	// The outcomes are named after the phase the release ends in; all are told.
	KindSucceeded  = EventKind(PhaseSucceeded)
	KindRolledBack = EventKind(PhaseRolledBack)
	KindFailed     = EventKind(PhaseFailed)
	KindDeferred   = EventKind(PhaseDeferred)
)

// told lists the kinds people hear of; it is only ever looked up, never ranged over.
var told = map[EventKind]bool{
	KindStarted: true, KindPhase: true,
	KindCanary: true, KindTraffic: true, KindSoakSkipped: true, KindCheckFailed: true, KindBatch: true, KindFlip: true,
	KindRollback: true, KindHalted: true,
	KindApprovalRequested: true, KindApproved: true, KindApprovalTimeout: true,
	KindReverted: true,
	KindAborted:  true, KindPaused: true, KindResumed: true, KindPromoted: true, KindHeld: true,
	KindStepStarted: true, KindStepDone: true, KindStepFailed: true, KindConfirmAsked: true, KindConfirmed: true,
	KindRejected: true, KindUndone: true, KindContracted: true, KindContractRefused: true,
	KindSucceeded: true, KindRolledBack: true, KindFailed: true, KindDeferred: true,
	KindWaiting: true, KindGoNoGoAsked: true, KindGo: true, KindNoGo: true, KindDeadline: true,
	KindExtended: true, KindFreezeOverridden: true,
	KindReminder: true, KindEscalated: true,
}

// Told reports whether people are told of events of this kind, beside the timeline.
func (k EventKind) Told() bool { return told[k] }

// Outcome is the kind of the event that ends a release in phase p.
func Outcome(p Phase) EventKind { return EventKind(p) }
