package workflows

// What the clock rules add to the API of releases and changes: three messages and the
// clock's part of the status.

import (
	"time"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
)

// Messages of the clock rules, each an update with a validator and a same-named signal,
// on releases and changes alike.
const (
	// UpdateGoNoGo answers the go/no-go call: go or no-go, with a reason.
	UpdateGoNoGo = "go-no-go"
	// UpdateStartNow lets a release or change waiting for its window start at once.
	UpdateStartNow = "start-now"
	// UpdateExtend moves decideBy and doneBy later.
	UpdateExtend = "extend"
)

// The phases and error type of the clock rules.
const (
	PhaseWaiting  = timeline.PhaseWaiting
	PhaseDeferred = timeline.PhaseDeferred
	// ErrTypeDeferred ends a release or change that a no-go, or a freeze with --no-wait,
	// stopped before it changed anything.
	ErrTypeDeferred = "Deferred"
)

// GoNoGoRequest is one answer to the go/no-go call.
type GoNoGoRequest struct {
	By     string `json:"by"`
	Answer string `json:"answer"` // AnswerGo or AnswerNoGo
	Reason string `json:"reason,omitempty"`
}

// StartNowRequest starts outside the window; the reason is recorded.
type StartNowRequest struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// ExtendRequest moves the deadline by Extra; the reason is recorded.
type ExtendRequest struct {
	By     string           `json:"by"`
	Extra  schemas.Duration `json:"extra"`
	Reason string           `json:"reason"`
}

// Actor is who sent the request.
func (r GoNoGoRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r StartNowRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r ExtendRequest) Actor() string { return r.By }

// ClockStatus is what the clock rules hold a release or change to, and what it waits for.
type ClockStatus struct {
	// Waiting says, for people, what the release waits for before it changes the fleet
	// ("waiting for the window, opens Tue 01:30 Europe/London"), until WaitingUntil.
	Waiting      string    `json:"waiting,omitempty"`
	WaitingUntil time.Time `json:"waitingUntil,omitempty"`
	// StartNowBy started outside the window, for StartNowReason.
	StartNowBy     string `json:"startNowBy,omitempty"`
	StartNowReason string `json:"startNowReason,omitempty"`
	// DecideBy and DoneBy are the deadline's instants, once resolved at the start.
	DecideBy   time.Time   `json:"decideBy,omitempty"`
	DoneBy     time.Time   `json:"doneBy,omitempty"`
	OnDeadline string      `json:"onDeadline,omitempty"`
	Extensions []Extension `json:"extensions,omitempty"`
	// Asked: with onDeadline ask, decideBy was reached and people were asked to extend.
	Asked           bool `json:"asked,omitempty"`
	DeadlineReached bool `json:"deadlineReached,omitempty"`
	// GoNoGo is the go/no-go call, once it is due.
	GoNoGo *GoNoGoStatus `json:"goNoGo,omitempty"`
	// FreezeOverride is who let it pass a freeze, and why.
	FreezeOverride string `json:"freezeOverride,omitempty"`
}

// Extension is one move of the deadline.
type Extension struct {
	By     string        `json:"by"`
	Reason string        `json:"reason"`
	Extra  time.Duration `json:"extra"`
	At     time.Time     `json:"at"`
}

// GoNoGoStatus is the go/no-go call: when it opens and closes, and the answers so far.
type GoNoGoStatus struct {
	OpensAt  time.Time      `json:"opensAt"`
	ClosesAt time.Time      `json:"closesAt,omitempty"`
	Required int            `json:"required"`
	People   []string       `json:"people,omitempty"`
	Answers  []GoNoGoAnswer `json:"answers,omitempty"`
	Open     bool           `json:"open,omitempty"`
	Decided  bool           `json:"decided,omitempty"`
}

// GoNoGoAnswer is one person's answer.
type GoNoGoAnswer struct {
	By     string    `json:"by"`
	Answer string    `json:"answer"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}
