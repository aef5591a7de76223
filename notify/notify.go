// Package notify tells people what a release is doing. A Notifier turns release events
// into messages: the Slack notifier keeps one thread per release (a parent message that
// shows the phase, updated in place, and every event as a reply), the log notifier writes
// them to a logger. Notifiers know nothing of Temporal; the Notify activity calls them.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Notifier delivers release events.
//
// The first call for a release has an empty Request.Thread; it returns the thread the
// release's messages belong to, which the caller stores (it must survive worker restarts
// and continue-as-new) and passes back on every later call. A Notifier must be safe to call
// again with the same request after an error or a crash: see Request.Attempt.
type Notifier interface {
	Notify(ctx context.Context, req Request) (Result, error)
}

// Request is one event to deliver.
type Request struct {
	// Channel is where the release is posted (the spec's notify.slack.channel, a name
	// such as #releases or an ID); empty means nowhere but the log.
	Channel string
	// Thread is what the previous call for this release returned; empty the first time.
	Thread string
	// Attempt is 1 on the first try of this request; above 1 a previous try may have
	// posted part of it, and the notifier must not post that part again.
	Attempt int
	Event   Event
}

// Result says where the release's messages go from now on.
type Result struct {
	Thread string `json:"thread"`
}

// Kind is what happened. Most values are the kinds of the release's timeline, so the
// workflow can forward its events as they are; a kind the notifier does not know is
// posted as a plain reply with its message.
type Kind string

// The kinds a notifier renders specially.
const (
	// KindStarted opens the release's thread; the changelog goes with it.
	KindStarted Kind = "started"
	// KindPhase only refreshes the parent message (phase, batches, traffic): no reply.
	KindPhase             Kind = "phase"
	KindCanary            Kind = "canary" // the canary is healthy and takes traffic
	KindCheckFailed       Kind = "check-failed"
	KindCheck             Kind = "check" // any other analysis verdict worth telling
	KindSoakSkipped       Kind = "soak-skipped"
	KindApprovalRequested Kind = "approval-requested"
	KindApproved          Kind = "approved"
	KindApprovalTimeout   Kind = "approval-timeout"
	KindAborted           Kind = "aborted"
	KindPaused            Kind = "paused"
	KindResumed           Kind = "resumed"
	KindPromoted          Kind = "promoted"
	KindBatch             Kind = "batch"
	KindFlip              Kind = "flip"
	KindHalted            Kind = "halted"
	KindRollback          Kind = "rollback" // rolling back, and why
	KindSucceeded         Kind = "Succeeded"
	KindRolledBack        Kind = "RolledBack"
	KindFailed            Kind = "Failed"
)

// Phases as the workflow names them; notify does not import workflows (which imports it
// through activities), so the names are repeated here for rendering.
const (
	phaseSoaking          = "Soaking"
	phaseAwaitingApproval = "AwaitingApproval"
	phasePromoting        = "Promoting"
	phaseRollingBack      = "RollingBack"
	phaseSucceeded        = "Succeeded"
	phaseRolledBack       = "RolledBack"
	phaseFailed           = "Failed"
)

// Event is one thing that happened to a release, with a snapshot of the release's status
// so that the parent message can be redrawn from any single event.
type Event struct {
	// ReleaseID is the workflow ID, release/<service>/<environment>; buttons carry it.
	ReleaseID string `json:"releaseId"`
	// FirstRunID is the run ID of the release's first run (stable across
	// continue-as-new). Buttons carry it so that a button of an older release of the same
	// service and environment cannot act on a newer one; it also keys the parent message.
	FirstRunID string `json:"firstRunId,omitempty"`
	// Seq numbers the events of a release, increasing, never reused (across
	// continue-as-new too). A retried reply with a Seq is not posted twice; 0 turns that
	// check off.
	Seq     int       `json:"seq,omitempty"`
	Kind    Kind      `json:"kind"`
	Time    time.Time `json:"time"`
	Phase   string    `json:"phase"` // the phase after the event
	By      string    `json:"by,omitempty"`
	Message string    `json:"message,omitempty"`

	Service         string    `json:"service"`
	Environment     string    `json:"environment"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previousVersion,omitempty"`
	StartedBy       string    `json:"startedBy,omitempty"`
	Started         time.Time `json:"started"`
	Ended           time.Time `json:"ended,omitempty"`
	// Changelog is posted in the thread; send it with KindStarted only.
	Changelog string         `json:"changelog,omitempty"`
	Desired   int            `json:"desired,omitempty"`
	Batch     int            `json:"batch,omitempty"`
	Batches   int            `json:"batches,omitempty"`
	Traffic   map[string]int `json:"traffic,omitempty"` // percent per version
	Paused    bool           `json:"paused,omitempty"`
	// Approval is the open gate, if any.
	Approval *Approval `json:"approval,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Approval describes an open approval gate.
type Approval struct {
	Gate       string    `json:"gate,omitempty"`      // afterSoak, beforeLastBatch
	Approvers  string    `json:"approvers,omitempty"` // schemas.Approval.ApproversLabel()
	Required   int       `json:"required,omitempty"`  // approvals needed at this gate
	ApprovedBy []string  `json:"approvedBy,omitempty"`
	Deadline   time.Time `json:"deadline,omitempty"`
	OnTimeout  string    `json:"onTimeout,omitempty"`
}

// Key identifies a release's thread for good: the same release gets the same key on
// every worker and after every restart.
func (e Event) Key() string {
	if e.FirstRunID != "" {
		return e.ReleaseID + "/" + e.FirstRunID
	}
	return fmt.Sprintf("%s/%d", e.ReleaseID, e.Started.Unix())
}

// Error is a delivery failure, with what the caller needs to decide about retrying.
type Error struct {
	Op string
	// Permanent errors (bad token, unknown channel, missing scope...) fail the same way
	// however often they are retried.
	Permanent bool
	// RetryAfter is how long the service asked to wait (rate limits); 0 if it did not say.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Op + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err will not go away by retrying.
func IsPermanent(err error) bool {
	var ne *Error
	return errors.As(err, &ne) && ne.Permanent
}

// RetryAfter is how long to wait before retrying err, if the service said; 0 otherwise.
func RetryAfter(err error) time.Duration {
	var ne *Error
	if errors.As(err, &ne) {
		return ne.RetryAfter
	}
	return 0
}
