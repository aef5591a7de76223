// Package notify tells people what a release is doing. A Notifier turns release events
// into messages: the Slack notifier (notify/slack) keeps one thread per release, the log
// notifier here writes them to a logger. Notifiers know nothing of Temporal; the Notify
// activity calls them. This package does no I/O of its own beyond the logger, so the
// workflow can use its types.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zerodown/zerodown/timeline"
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
	// ReplyOnly posts the event as a reply in Thread and leaves the thread's parent alone:
	// a release run by a change answers in the change's thread, whose parent is the
	// change's. With no usable Thread, nothing is posted.
	ReplyOnly bool
	Event     Event
}

// Result says where the release's messages go from now on.
type Result struct {
	Thread string `json:"thread"`
}

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
	Seq     int                `json:"seq,omitempty"`
	Kind    timeline.EventKind `json:"kind"`
	Time    time.Time          `json:"time"`
	Phase   timeline.Phase     `json:"phase"` // the phase after the event
	By      string             `json:"by,omitempty"`
	Message string             `json:"message,omitempty"`

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
	// Change is set on the events of a change (see Change); nil on a release's.
	Change *Change `json:"change,omitempty"`
	// Waiting says what the release waits for before it changes the fleet (a window, a
	// freeze, the go/no-go call); DecideBy is its deadline, when it has one.
	Waiting  string    `json:"waiting,omitempty"`
	DecideBy time.Time `json:"decideBy,omitempty"`
	// Mentions are the people a reminder or an escalation calls on, as the spec names
	// them (schemas.Remind: Slack user IDs, user group IDs or @handles).
	Mentions []string `json:"mentions,omitempty"`
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
