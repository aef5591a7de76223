package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
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

// Action IDs of a change's confirm step buttons; the Slack bridge sends the change's
// confirm update (every checklist item answered fine) or asks the clicker for a reason and
// sends reject.
const (
	ActionConfirm = "zerodown_change_confirm"
	ActionReject  = "zerodown_change_reject"
)

// Bounds and shapes of a change button's value: it comes back from Slack in a click,
// which anyone who can forge a request could fill; the bridge refuses anything else.
const maxActionValue = 2000

var (
	changeIDRE = regexp.MustCompile(`^change/[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	stepIDRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	runIDRE    = regexp.MustCompile(`^[A-Za-z0-9-]{0,64}$`)
)

// ChangeActionValue is what a change's Confirm and Reject buttons carry: the change, its
// first run (so that a button of an older run of the same change does nothing), and the
// confirm step.
type ChangeActionValue struct {
	ChangeID   string `json:"change"`
	FirstRunID string `json:"firstRunId,omitempty"`
	Step       string `json:"step"`
}

// Encode writes the value as a button's value.
func (v ChangeActionValue) Encode() string {
	b, _ := json.Marshal(v) // three strings: cannot fail
	return string(b)
}

// DecodeChangeActionValue reads a change button's value, refusing anything a zerodown
// button could not carry.
func DecodeChangeActionValue(s string) (ChangeActionValue, error) {
	var v ChangeActionValue
	if len(s) > maxActionValue {
		return v, fmt.Errorf("the button's value is %d bytes, at most %d", len(s), maxActionValue)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return ChangeActionValue{}, errors.New("not a zerodown change button value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ChangeActionValue{}, errors.New("not a zerodown change button value: something follows it")
	}
	switch {
	case !changeIDRE.MatchString(v.ChangeID):
		return ChangeActionValue{}, errors.New("the button names no change")
	case !stepIDRE.MatchString(v.Step):
		return ChangeActionValue{}, errors.New("the button names no step")
	case !runIDRE.MatchString(v.FirstRunID):
		return ChangeActionValue{}, errors.New("the button names no run")
	}
	return v, nil
}
