package slack

import (
	"encoding/json"
	"errors"
	"strings"
)

// Action IDs of the Slack buttons; the Slack bridge maps each to the release update of
// the same meaning (approve, abort, promote).
const (
	ActionApprove = "zerodown_approve"
	ActionAbort   = "zerodown_abort"
	ActionPromote = "zerodown_promote"
)

// ActionValue is what a button carries: which release it acts on. The value is visible to
// (and forgeable by) nobody but Slack, since the bridge only accepts signed requests; it
// holds no secret.
type ActionValue struct {
	ReleaseID string `json:"release"`
	// FirstRunID pins the button to one release: a click on the button of a release that
	// has ended does not reach the next release of the same service and environment.
	FirstRunID string `json:"firstRunId,omitempty"`
}

// Encode writes the value as a button's value (at most 2,000 characters for Slack).
func (v ActionValue) Encode() string {
	b, _ := json.Marshal(v) // two strings: cannot fail
	return string(b)
}

// DecodeActionValue reads a button's value.
func DecodeActionValue(s string) (ActionValue, error) {
	var v ActionValue
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return ActionValue{}, errors.New("not a zerodown button value")
	}
	if !strings.HasPrefix(v.ReleaseID, "release/") {
		return ActionValue{}, errors.New("the button names no release")
	}
	return v, nil
}
