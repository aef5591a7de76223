package schemas

import (
	"strings"
	"time"

	"github.com/zerodown/zerodown/timerules"
)

// The clock rules a release spec and a change spec share (issue 14, docs/time.md):
// window, deadline and goNoGo at the top level. Windows and deadlines are package
// timerules' types; the go/no-go call is a gate of people, so it lives here with the
// approval policy, and only its time comes from timerules.

// The top-level fields of the clock rules.
const (
	FieldWindow   = timerules.FieldWindow
	FieldDeadline = timerules.FieldDeadline
	FieldGoNoGo   = "goNoGo"
)

// defaultGoNoGoTimeout is how long a go/no-go call waits for its answers.
const defaultGoNoGoTimeout = time.Hour

// GoNoGo is a call before anything changes: Count of the Approvers each answer go or
// no-go with a reason. One no-go, or too few go by Timeout, defers the release or the
// change: it ends as Deferred and touches nothing. With At, the call opens at that time
// of day in Timezone (the first after the start); without, as soon as it starts.
type GoNoGo struct {
	// Approvers are people, or groups written group:<name>, as in canary.approval.
	Approvers []string            `json:"approvers"`
	Groups    map[string][]string `json:"groups,omitempty"`
	// Count is how many distinct people must answer go (0 means 1).
	Count int `json:"count,omitempty"`
	// At is HH:MM, read in Timezone (IANA, required with At).
	At       string   `json:"at,omitempty"`
	Timezone string   `json:"timezone,omitempty"`
	Timeout  Duration `json:"timeout,omitempty"`
}

// RequiredGo is how many distinct people must answer go: Count, at least 1.
func (g GoNoGo) RequiredGo() int { return max(1, g.Count) }

// TimeoutOrDefault is how long the call waits for its answers once it opens.
func (g GoNoGo) TimeoutOrDefault() time.Duration { return orDefault(g.Timeout, defaultGoNoGoTimeout) }

// Policy is the call's people as an approval policy (People, Allows, RequiredApprovals),
// so that the go/no-go answers are held to the same rules as approvals.
func (g GoNoGo) Policy() Approval {
	return Approval{Required: true, Approvers: g.Approvers, Groups: g.Groups, Count: g.Count, Timeout: g.Timeout}
}

// OpensAt is when the call opens for a release or change started at start: the first At
// after start, or start itself without At.
func (g GoNoGo) OpensAt(start time.Time) (time.Time, error) {
	if g.At == "" {
		return start, nil
	}
	return timerules.ResolveAt(g.At, g.Timezone, start)
}

// checkTimeRules reads the clock rules of a release or a change with package timerules
// and reports each problem under its field.
func checkTimeRules(w []timerules.Window, d *timerules.Deadline, g *GoNoGo, add func(path, format string, args ...any)) {
	report := func(err error) {
		if fes, ok := err.(timerules.FieldErrors); ok {
			for _, fe := range fes {
				add(fe.Field, "%s", fe.Message)
			}
		}
	}
	report(timerules.CheckWindows(w))
	if d != nil {
		report(d.Check())
	}
	if g == nil {
		return
	}
	checkPeople(ConfirmStep{Approvers: g.Approvers, Groups: g.Groups, Count: g.Count}, FieldGoNoGo, "the call could never say go", add)
	if g.At != "" {
		if _, err := timerules.ParseTimeOfDay(g.At, false); err != nil {
			add(FieldGoNoGo+".at", "%v", err)
		}
	}
	switch {
	case g.At != "" && g.Timezone == "":
		add(FieldGoNoGo+".timezone", "is required with at: name the IANA time zone %s is read in, such as Europe/London", g.At)
	case g.At == "" && g.Timezone != "":
		add(FieldGoNoGo+".timezone", "is set without at; it only says how at is read: add at (e.g. 17:00) or remove it")
	case g.Timezone != "":
		if _, err := timerules.LoadZone(g.Timezone); err != nil {
			add(FieldGoNoGo+".timezone", "%v", strings.TrimSpace(err.Error()))
		}
	}
}
