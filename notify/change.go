package notify

import "time"

// Change is the snapshot of a change that its events carry (Event.Change): the Slack
// notifier draws the change's parent message from it, a table of steps instead of a
// release's fleet. On a change's events, Event.ReleaseID is the change's workflow ID
// (change/<name>) and Event.FirstRunID its first run, which key its thread and its
// buttons as they key a release's.
type Change struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Steps are the change's steps in file order, at most MaxToldSteps of them; Hidden
	// counts the others.
	Steps  []ChangeStep `json:"steps,omitempty"`
	Hidden int          `json:"hidden,omitempty"`
	// Confirm is the confirm step the event asks people to answer (KindConfirmAsked).
	Confirm *Confirm `json:"confirm,omitempty"`
}

// MaxToldSteps bounds the steps an event carries, so that a change of 200 steps does not
// send its whole table with every event. MaxStepDetail bounds each step's detail.
const (
	MaxToldSteps  = 60
	MaxStepDetail = 200
)

// ChangeStep is one line of the change's table.
type ChangeStep struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Confirm is a confirm step waiting for people: what its Confirm and Reject buttons act on.
type Confirm struct {
	Step      string    `json:"step"`
	Prompt    string    `json:"prompt,omitempty"`
	Approvers string    `json:"approvers,omitempty"` // schemas.Approval.ApproversLabel()
	Required  int       `json:"required,omitempty"`
	Checklist []string  `json:"checklist,omitempty"`
	Deadline  time.Time `json:"deadline,omitempty"`
	OnTimeout string    `json:"onTimeout,omitempty"`
}
