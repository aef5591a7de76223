// Package workflows holds ReleaseWorkflow: the durable release of one version of one
// service to one environment. Workflow code does no I/O; activities do.
package workflows

import (
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/timeline"
)

// TaskQueue is where zerodown workers listen.
const TaskQueue = "zerodown"

// Names of the workflow, its updates (each also accepted as a signal) and its query.
const (
	ReleaseWorkflowName = "ReleaseWorkflow"
	UpdateApprove       = "approve"
	UpdateAbort         = "abort"
	UpdatePause         = "pause"
	UpdateResume        = "resume"
	UpdatePromote       = "promote"
	// UpdateFinalize tells a held release (one step of a change) to drain its old fleet.
	UpdateFinalize = "finalize"
	QueryStatus    = "status"
)

// Search attribute names; register them on the namespace before starting releases.
const (
	SAService     = "ZerodownService"
	SAEnvironment = "ZerodownEnvironment"
	SAVersion     = "ZerodownVersion"
	SAPhase       = "ZerodownPhase"
	// SAChange names the change a release belongs to (and is set on the change itself),
	// so the Temporal UI lists a change with its releases.
	SAChange = "ZerodownChange"
	// SACanaryWeight is the canary's share of requests while traffic steps set it,
	// such as "25%", so the Temporal UI can list releases by their step.
	SACanaryWeight = "ZerodownCanaryWeight"
)

// SearchAttributes lists every search attribute above, all Keyword, for registering them
// on a namespace.
var SearchAttributes = []string{SAService, SAEnvironment, SAVersion, SAPhase, SAChange, SACanaryWeight}

// SearchAttribute decodes one of the Keyword search attributes above from a
// visibility record; "" when it is missing or not a string.
func SearchAttribute(sa *commonpb.SearchAttributes, name string) string {
	p, ok := sa.GetIndexedFields()[name]
	if !ok {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return ""
	}
	return s
}

// Phase is where a release is; the phases are declared in the timeline package, which
// notify shares, and named here too for the workflow's callers.
type Phase = timeline.Phase

// The phases, in the order a successful release passes them.
const (
	PhasePlanning         = timeline.PhasePlanning
	PhaseBaking           = timeline.PhaseBaking
	PhaseCanary           = timeline.PhaseCanary
	PhaseSoaking          = timeline.PhaseSoaking
	PhaseAwaitingApproval = timeline.PhaseAwaitingApproval
	PhasePromoting        = timeline.PhasePromoting
	PhaseDraining         = timeline.PhaseDraining
	PhaseHeld             = timeline.PhaseHeld
	PhaseRunning          = timeline.PhaseRunning
	PhaseFinalizing       = timeline.PhaseFinalizing
	PhaseContracting      = timeline.PhaseContracting
	PhaseSucceeded        = timeline.PhaseSucceeded
	PhaseRollingBack      = timeline.PhaseRollingBack
	PhaseRolledBack       = timeline.PhaseRolledBack
	PhaseFailed           = timeline.PhaseFailed
)

// ReleaseInput starts a release. State is set only when the workflow continues as new.
type ReleaseInput struct {
	Spec      schemas.Spec `json:"spec"`
	Version   string       `json:"version"`
	Changelog string       `json:"changelog,omitempty"`
	StartedBy string       `json:"startedBy,omitempty"`
	// ChecksPerRun bounds the soak checks of one run before it continues as new,
	// keeping each run's history small; 0 means DefaultChecksPerRun.
	ChecksPerRun int           `json:"checksPerRun,omitempty"`
	State        *ReleaseState `json:"state,omitempty"`
	// Hold, set by a change, keeps the old fleet after the promote until the change says.
	Hold *Hold `json:"hold,omitempty"`
	// Signature, when set, proves who started the release: four-eyes then compares keys.
	Signature *signing.Signed `json:"signature,omitempty"`
	// NoWait ends the release Deferred when its environment is frozen at the start,
	// instead of waiting for the freeze to lift.
	NoWait bool `json:"noWait,omitempty"`
}

// Hold makes a release one step of a change: after the promote it keeps its old
// instances detached but alive and waits for the change to finalize it (drain and
// terminate them) or roll it back (an abort: they are attached again at once).
type Hold struct {
	ChangeID string `json:"changeId"`
	Step     string `json:"step"`
	// Timeout bounds the wait: past it the release rolls back by itself, so a change that
	// is gone cannot leave the fleet half-released.
	Timeout time.Duration `json:"timeout"`
	// Thread is the change's Slack thread, when it has one: the release posts its events
	// there as replies (and draws no parent message of its own) instead of opening a
	// thread in its spec's channel.
	Thread string `json:"thread,omitempty"`
}

// SignalReleaseHeld is the signal a held release sends its change.
const SignalReleaseHeld = "release-held"

// ReleaseHeld is what a held release tells its change.
type ReleaseHeld struct {
	Step            string `json:"step"`
	ReleaseID       string `json:"releaseId"`
	Version         string `json:"version"`
	PreviousVersion string `json:"previousVersion,omitempty"`
}

// DefaultChecksPerRun keeps one run of a long soak near 3,000 history events.
const DefaultChecksPerRun = 300

// ApproveRequest is the payload of the approve update. Signature, when set, proves who
// approved (docs/approvals.md); the spec can require it.
type ApproveRequest struct {
	By        string          `json:"by"`
	Comment   string          `json:"comment,omitempty"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// AbortRequest is the payload of the abort update. Anyone may abort unsigned: stopping is
// always safe; a signed abort is recorded as verified.
type AbortRequest struct {
	By        string          `json:"by"`
	Reason    string          `json:"reason,omitempty"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// ActorRequest is the payload of pause, resume, promote and finalize.
type ActorRequest struct {
	By        string          `json:"by"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// Actor is who sent the request.
func (r ApproveRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r AbortRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r ActorRequest) Actor() string { return r.By }

// Event is one line of a release's timeline.
type Event struct {
	Time    time.Time          `json:"time"`
	Phase   Phase              `json:"phase"`
	Kind    timeline.EventKind `json:"kind"`
	By      string             `json:"by,omitempty"`
	Message string             `json:"message"`
}

// PhaseRecord is when a phase began.
type PhaseRecord struct {
	Phase   Phase     `json:"phase"`
	Started time.Time `json:"started"`
}

// VersionCount is how many instances of a version exist, are healthy and take traffic.
type VersionCount struct {
	Version  string `json:"version"`
	Total    int    `json:"total"`
	Healthy  int    `json:"healthy"`
	Attached int    `json:"attached"`
}

// CheckResult is the verdict of one canary check, with its numbers.
type CheckResult = analysis.Result

// MetricResult is one metric's numbers within a check.
type MetricResult = analysis.MetricResult

// Verdicts.
const (
	VerdictPass         = analysis.Pass
	VerdictFail         = analysis.Fail
	VerdictInconclusive = analysis.Inconclusive
)

// PendingApproval describes an open approval gate.
type PendingApproval struct {
	Reason    string   `json:"reason,omitempty"`    // why a gate analysis opened is waiting
	Gate      string   `json:"gate,omitempty"`      // schemas.GateAfterSoak or GateBeforeLastBatch
	Required  int      `json:"required,omitempty"`  // distinct approvals this gate needs
	Approvals []string `json:"approvals,omitempty"` // who has approved it so far
	// Signers are the verified signers of those approvals that were signed.
	Signers   []signing.Verified `json:"signers,omitempty"`
	Approvers []string           `json:"approvers,omitempty"`
	Since     time.Time          `json:"since"`
	Deadline  time.Time          `json:"deadline,omitempty"`
	OnTimeout string             `json:"onTimeout,omitempty"`
	// RemindedAt and EscalatedAt say when the gate's reminder and escalation went (see
	// canary.approval.remind); each goes once.
	RemindedAt  time.Time `json:"remindedAt,omitempty"`
	EscalatedAt time.Time `json:"escalatedAt,omitempty"`
}

// Status is what the status query returns.
type Status struct {
	ReleaseID          string           `json:"releaseId"`
	Service            string           `json:"service"`
	Environment        string           `json:"environment"`
	Version            string           `json:"version"`
	PreviousVersion    string           `json:"previousVersion,omitempty"`
	Phase              Phase            `json:"phase"`
	Phases             []PhaseRecord    `json:"phases"`
	Paused             bool             `json:"paused"`
	PausedBy           string           `json:"pausedBy,omitempty"`
	Desired            int              `json:"desired"`
	Versions           []VersionCount   `json:"versions"`
	Traffic            map[string]int   `json:"traffic"` // percent of requests per version
	PendingApproval    *PendingApproval `json:"pendingApproval,omitempty"`
	Checks             []CheckResult    `json:"checks,omitempty"`
	InconclusiveChecks int              `json:"inconclusiveChecks,omitempty"`
	FailedChecks       int              `json:"failedChecks"`
	SoakRemaining      time.Duration    `json:"soakRemaining"`
	SoakEndsAt         time.Time        `json:"soakEndsAt,omitempty"`
	AbortedBy          string           `json:"abortedBy,omitempty"`
	StartedBy          string           `json:"startedBy,omitempty"`
	// StartedByVerified is who signed the start: "alice (verified, SHA256:…)".
	StartedByVerified string    `json:"startedByVerified,omitempty"`
	Started           time.Time `json:"started"`
	Ended             time.Time `json:"ended,omitempty"`
	Batch             int       `json:"batch,omitempty"`
	Batches           int       `json:"batches,omitempty"`
	Timeline          []Event   `json:"timeline"`
	NotifyError       string    `json:"notifyError,omitempty"` // the last notification that failed for good
	// Reminders are the reminders and escalations sent, each once, across runs.
	Reminders []Reminder `json:"reminders,omitempty"`
	// PageError is the last page that failed for good; the release goes on.
	PageError string       `json:"pageError,omitempty"`
	Error     string       `json:"error,omitempty"`
	Fleet     *fleet.State `json:"fleet,omitempty"`
	// Servers are the fixed servers of an in-place release, in the spec's order.
	Servers []ServerStatus `json:"servers,omitempty"`
	Run     int            `json:"run"` // how many times the release continued as new

	// CanaryWeight is the canary's share of requests (percent) while traffic steps
	// set it, and TrafficStep which step of TrafficSteps it is (1-based); zero otherwise.
	CanaryWeight int `json:"canaryWeight,omitempty"`
	TrafficStep  int `json:"trafficStep,omitempty"`
	TrafficSteps int `json:"trafficSteps,omitempty"`
	// Clock is what the clock rules hold the release to: waits, deadline, go/no-go.
	Clock *ClockStatus `json:"clock,omitempty"`
}
