package workflows

// The names and payloads of ChangeWorkflow: what the CLI, Slack and the plain temporal
// CLI send a change, and what its status query returns.

import (
	"time"

	"github.com/zerodown/zerodown/schemas"
)

// Names of the change workflow and of the messages only a change takes; abort and the
// status query share the release's names (UpdateAbort, QueryStatus).
const (
	ChangeWorkflowName = "ChangeWorkflow"
	UpdateConfirm      = "confirm"
	UpdateReject       = "reject"
)

// ChangeInput starts a change.
type ChangeInput struct {
	Spec      schemas.ChangeSpec `json:"spec"`
	StartedBy string             `json:"startedBy,omitempty"`
	// NoWait ends the change Deferred when its environment is frozen at the start.
	NoWait bool `json:"noWait,omitempty"`
}

// ConfirmRequest confirms a confirm step: every item of its checklist answered true.
type ConfirmRequest struct {
	Step      string          `json:"step"`
	By        string          `json:"by"`
	Checklist map[string]bool `json:"checklist,omitempty"`
	Comment   string          `json:"comment,omitempty"`
}

// RejectRequest rejects a confirm step, which rolls the change back.
type RejectRequest struct {
	Step   string `json:"step"`
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Actor is who sent the request.
func (r ConfirmRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r RejectRequest) Actor() string { return r.By }

// StepState is where one step of a change is.
type StepState string

// The states of a step.
const (
	StepWaiting     StepState = "waiting"      // its `after` steps have not all succeeded
	StepRunning     StepState = "running"      // started; a release step until it is held
	StepDone        StepState = "done"         // succeeded; a release step is held
	StepFinalized   StepState = "finalized"    // a release whose old fleet has drained
	StepFailed      StepState = "failed"       // it failed (and caused the rollback)
	StepCancelled   StepState = "cancelled"    // stopped by the rollback before it was done
	StepRollingBack StepState = "rolling-back" // being undone
	StepRolledBack  StepState = "rolled-back"  // undone: the release re-attached its old fleet, the undo command ran
	StepNotUndone   StepState = "not-undone"   // its undo failed: see the change's leftToDo
	StepSkipped     StepState = "skipped"      // never started
)

// StepStatus is one step as the status query shows it.
type StepStatus struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	After   []string  `json:"after,omitempty"`
	State   StepState `json:"state"`
	Started time.Time `json:"started,omitempty"`
	Ended   time.Time `json:"ended,omitempty"`
	Message string    `json:"message,omitempty"`
	// A release step's child release, and the versions it moves between.
	ReleaseID       string `json:"releaseId,omitempty"`
	Version         string `json:"version,omitempty"`
	PreviousVersion string `json:"previousVersion,omitempty"`
	// A confirm step's answers so far, and who rejected it.
	Confirmations []Confirmation `json:"confirmations,omitempty"`
	Checklist     []string       `json:"checklist,omitempty"`
	Required      int            `json:"required,omitempty"`
	Deadline      time.Time      `json:"deadline,omitempty"`
	RejectedBy    string         `json:"rejectedBy,omitempty"`
	// When a confirm step's reminder and escalation went (confirm.remind); each goes once.
	RemindedAt  time.Time `json:"remindedAt,omitempty"`
	EscalatedAt time.Time `json:"escalatedAt,omitempty"`
	// A migration's contract: pending, done, or why it did not run.
	Contract string `json:"contract,omitempty"`
}

// Confirmation is one person's answer to a confirm step.
type Confirmation struct {
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	Time    time.Time `json:"time"`
}

// ChangeStatus is what a change's status query returns.
type ChangeStatus struct {
	ChangeID    string       `json:"changeId"`
	Name        string       `json:"name"`
	Environment string       `json:"environment"`
	Phase       Phase        `json:"phase"`
	StartedBy   string       `json:"startedBy,omitempty"`
	Started     time.Time    `json:"started"`
	Ended       time.Time    `json:"ended,omitempty"`
	Steps       []StepStatus `json:"steps"`
	Timeline    []Event      `json:"timeline"`
	// FailedStep and Reason say what rolled the change back.
	FailedStep string `json:"failedStep,omitempty"`
	Reason     string `json:"reason,omitempty"`
	AbortedBy  string `json:"abortedBy,omitempty"`
	// LeftToDo is what the rollback (or a contract) could not do: to be done by hand.
	LeftToDo []string `json:"leftToDo,omitempty"`
	Error    string   `json:"error,omitempty"`
	// NotifyError is the last notification (Slack) that failed for good; the change goes on.
	NotifyError string `json:"notifyError,omitempty"`
	// PageError is the last page that failed for good; the change goes on.
	PageError string `json:"pageError,omitempty"`
	// Clock is what the clock rules hold the change to: waits, deadline, go/no-go.
	Clock *ClockStatus `json:"clock,omitempty"`
}

// Step returns the status of the step with the given ID.
func (s ChangeStatus) Step(id string) (StepStatus, bool) {
	for _, st := range s.Steps {
		if st.ID == id {
			return st, true
		}
	}
	return StepStatus{}, false
}
