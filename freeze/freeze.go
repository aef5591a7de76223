// Package freeze holds what a freeze of an environment is: the freezes themselves, the
// requests that declare, lift, extend and override them, the checks of those requests,
// and whether an environment is frozen at an instant. It is pure code (no I/O, no clock:
// every function takes the instant it judges), so FreezeWorkflow runs it at workflow.Now
// and the FreezeState activity runs it at the wall clock, and both agree.
package freeze

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zerodown/zerodown/signing"
)

// Names of the freeze workflow, its updates and its queries.
const (
	WorkflowName   = "FreezeWorkflow"
	UpdateDeclare  = "declare"
	UpdateLift     = "lift"
	UpdateExtend   = "extend"
	UpdateOverride = "override"
	// QueryFreezes returns the Ledger: the freezes active and upcoming, and the last events.
	QueryFreezes = "freezes"
)

// Bounds of what a freeze may carry: an environment's freezes live in one workflow's
// state, which every query returns and continue-as-new carries.
const (
	MaxFreezes   = 100
	MaxOverrides = 50
	MaxReasonLen = 4 << 10
	MaxActorLen  = 256
	MaxTargetLen = 256
	// MaxLength is the longest freeze: a year; a longer one is a typo or a policy, not a freeze.
	MaxLength = 366 * 24 * time.Hour
	// KeptEvents is how many of the last events the ledger keeps for `freeze list`; the
	// workflow's history keeps every one.
	KeptEvents = 50
)

// WorkflowID is the ID of the freeze workflow of env: one per environment.
func WorkflowID(env string) string { return "freeze/" + env }

// envName is what an environment may be called, as the release spec's schema says.
var envName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckEnvironment refuses a name that cannot be an environment of a release spec.
func CheckEnvironment(env string) error {
	if !envName.MatchString(env) {
		return fmt.Errorf("environment: %q must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", clipped(env))
	}
	return nil
}

// Freeze is one period during which nothing may change an environment's fleet.
type Freeze struct {
	ID         string     `json:"id"`
	From       time.Time  `json:"from"`
	Until      time.Time  `json:"until"`
	Reason     string     `json:"reason"`
	By         string     `json:"by"`
	DeclaredAt time.Time  `json:"declaredAt"`
	Overrides  []Override `json:"overrides,omitempty"`
}

// Covers says whether the freeze is in force at t: from included, until excluded.
func (f Freeze) Covers(t time.Time) bool { return !t.Before(f.From) && t.Before(f.Until) }

// Override lets one release or change pass a freeze, as an emergency: who approved it,
// why, and the signature when there is one. The freeze records it; the release checks the
// approver (and the signature) against its own spec's approval policy.
type Override struct {
	// Target is the workflow ID of the release or change: release/<service>/<env> or change/<name>.
	Target    string          `json:"target"`
	Reason    string          `json:"reason"`
	By        string          `json:"by"`
	At        time.Time       `json:"at"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// Event is one line of a freeze workflow's audit: what was done, by whom, when.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // declared, lifted, extended, overridden, expired
	ID      string    `json:"id"`
	By      string    `json:"by,omitempty"`
	Message string    `json:"message"`
}

// Kinds of events.
const (
	EventDeclared   = "declared"
	EventLifted     = "lifted"
	EventExtended   = "extended"
	EventOverridden = "overridden"
	EventExpired    = "expired"
)

// Ledger is what a freeze workflow holds and its query returns.
type Ledger struct {
	Environment string   `json:"environment"`
	Freezes     []Freeze `json:"freezes"`
	Events      []Event  `json:"events,omitempty"`
	// Seq numbers freezes: IDs are never reused in an environment.
	Seq int `json:"seq"`
}

// DeclareRequest declares a freeze.
type DeclareRequest struct {
	By     string    `json:"by"`
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// LiftRequest ends a freeze now.
type LiftRequest struct {
	By     string `json:"by"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ExtendRequest moves a freeze's end.
type ExtendRequest struct {
	By     string    `json:"by"`
	ID     string    `json:"id"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// OverrideRequest lets Target pass the freeze ID, or every freeze not yet over when ID is
// empty.
type OverrideRequest struct {
	By        string          `json:"by"`
	ID        string          `json:"id,omitempty"`
	Target    string          `json:"target"`
	Reason    string          `json:"reason"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// Actor is who sent the request.
func (r DeclareRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r LiftRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r ExtendRequest) Actor() string { return r.By }

// Actor is who sent the request.
func (r OverrideRequest) Actor() string { return r.By }

// CheckDeclare refuses a declaration the ledger cannot take at now, naming the field.
func (l *Ledger) CheckDeclare(r DeclareRequest, now time.Time) error {
	if err := checkText(r.By, r.Reason); err != nil {
		return err
	}
	if err := checkPeriod(r.From, r.Until, now); err != nil {
		return err
	}
	if len(l.Freezes) >= MaxFreezes {
		return fmt.Errorf("freezes: %s already has %d freezes, at most %d: lift or let some end first", l.Environment, len(l.Freezes), MaxFreezes)
	}
	return nil
}

// Declare adds the freeze of r, declared at now, and returns it.
func (l *Ledger) Declare(r DeclareRequest, now time.Time) Freeze {
	l.Seq++
	f := Freeze{ID: fmt.Sprintf("%s-%d", l.Environment, l.Seq), From: r.From.UTC(), Until: r.Until.UTC(), Reason: r.Reason, By: r.By, DeclaredAt: now}
	l.Freezes = append(l.Freezes, f)
	l.sort()
	l.record(now, EventDeclared, f.ID, r.By, fmt.Sprintf("frozen from %s until %s: %s", stamp(f.From), stamp(f.Until), r.Reason))
	return f
}

// CheckLift refuses a lift of a freeze the ledger does not hold.
func (l *Ledger) CheckLift(r LiftRequest) error {
	if err := checkText(r.By, r.Reason); err != nil {
		return err
	}
	_, err := l.find(r.ID)
	return err
}

// Lift removes the freeze r names.
func (l *Ledger) Lift(r LiftRequest, now time.Time) Freeze {
	i, _ := l.find(r.ID)
	f := l.Freezes[i]
	l.Freezes = slices.Delete(l.Freezes, i, i+1)
	l.record(now, EventLifted, f.ID, r.By, "lifted: "+r.Reason)
	return f
}

// CheckExtend refuses an extension of a freeze the ledger does not hold, or to an end
// that is not later than its start and now.
func (l *Ledger) CheckExtend(r ExtendRequest, now time.Time) error {
	if err := checkText(r.By, r.Reason); err != nil {
		return err
	}
	i, err := l.find(r.ID)
	if err != nil {
		return err
	}
	return checkPeriod(l.Freezes[i].From, r.Until, now)
}

// Extend moves the end of the freeze r names (earlier or later: both are an extension of
// the decision, and the reason says which).
func (l *Ledger) Extend(r ExtendRequest, now time.Time) Freeze {
	i, _ := l.find(r.ID)
	was := l.Freezes[i].Until
	l.Freezes[i].Until = r.Until.UTC()
	l.sort()
	i, _ = l.find(r.ID)
	l.record(now, EventExtended, r.ID, r.By, fmt.Sprintf("until %s (was %s): %s", stamp(r.Until), stamp(was), r.Reason))
	return l.Freezes[i]
}

// CheckOverride refuses an override without a target or reason, or of no freeze.
func (l *Ledger) CheckOverride(r OverrideRequest, now time.Time) error {
	if err := checkText(r.By, r.Reason); err != nil {
		return err
	}
	if err := CheckTarget(r.Target); err != nil {
		return err
	}
	idx, err := l.overridden(r, now)
	if err != nil {
		return err
	}
	for _, i := range idx {
		if len(l.Freezes[i].Overrides) >= MaxOverrides {
			return fmt.Errorf("overrides: freeze %s already has %d overrides, at most %d", l.Freezes[i].ID, MaxOverrides, MaxOverrides)
		}
	}
	return nil
}

// Override records r in the freezes it names and returns their IDs.
func (l *Ledger) Override(r OverrideRequest, now time.Time) []string {
	idx, _ := l.overridden(r, now)
	var ids []string
	for _, i := range idx {
		l.Freezes[i].Overrides = append(l.Freezes[i].Overrides, Override{Target: r.Target, Reason: r.Reason, By: r.By, At: now, Signature: r.Signature})
		ids = append(ids, l.Freezes[i].ID)
		signed := ""
		if r.Signature != nil {
			signed = " (signed)"
		}
		l.record(now, EventOverridden, l.Freezes[i].ID, r.By, fmt.Sprintf("%s may pass%s: %s", r.Target, signed, r.Reason))
	}
	return ids
}

// overridden is the index of the freeze r names, or of every freeze not yet over.
func (l *Ledger) overridden(r OverrideRequest, now time.Time) ([]int, error) {
	if r.ID != "" {
		i, err := l.find(r.ID)
		return []int{i}, err
	}
	var idx []int
	for i, f := range l.Freezes {
		if f.Until.After(now) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("id: %s has no freeze active or upcoming to override", l.Environment)
	}
	return idx, nil
}

// Expire drops the freezes over at now and returns how many.
func (l *Ledger) Expire(now time.Time) int {
	n := 0
	kept := l.Freezes[:0]
	for _, f := range l.Freezes {
		if f.Until.After(now) {
			kept = append(kept, f)
			continue
		}
		n++
		l.record(now, EventExpired, f.ID, "", "ended at "+stamp(f.Until))
	}
	l.Freezes = kept
	return n
}

// NextEnd is the earliest end of a freeze after now, or the zero time.
func (l *Ledger) NextEnd(now time.Time) time.Time {
	var next time.Time
	for _, f := range l.Freezes {
		if f.Until.After(now) && (next.IsZero() || f.Until.Before(next)) {
			next = f.Until
		}
	}
	return next
}

func (l *Ledger) find(id string) (int, error) {
	if strings.TrimSpace(id) == "" {
		return -1, errors.New("id: required: say which freeze (zerodown freeze list)")
	}
	for i, f := range l.Freezes {
		if f.ID == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("id: %s has no freeze %q (lifted, ended or never declared; zerodown freeze list --env %s)", l.Environment, clipped(id), l.Environment)
}

// sort keeps freezes by start, then ID, so every listing reads in time order.
func (l *Ledger) sort() {
	slices.SortStableFunc(l.Freezes, func(a, b Freeze) int {
		if c := a.From.Compare(b.From); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (l *Ledger) record(now time.Time, kind, id, by, msg string) {
	l.Events = append(l.Events, Event{Time: now, Kind: kind, ID: id, By: by, Message: msg})
	if n := len(l.Events) - KeptEvents; n > 0 {
		l.Events = slices.Delete(l.Events, 0, n)
	}
}

// State is whether an environment is frozen at an instant, as a release asks it before
// it changes the fleet.
type State struct {
	Environment string    `json:"environment"`
	At          time.Time `json:"at"`
	Frozen      bool      `json:"frozen"`
	// Until is when the environment is next free: the end of the freezes in force,
	// following freezes that overlap or touch them.
	Until time.Time `json:"until,omitempty"`
	// IDs and Reason are those of the freezes in force; By who declared them.
	IDs    []string `json:"ids,omitempty"`
	Reason string   `json:"reason,omitempty"`
	By     string   `json:"by,omitempty"`
	// Overrides are the target's overrides, one per freeze in force; Overridden is true
	// when every freeze in force has one, so the target may pass.
	Overrides  []Override `json:"overrides,omitempty"`
	Overridden bool       `json:"overridden"`
}

// StateAt says whether the ledger's environment is frozen at t for target (a release or
// change workflow ID; "" asks about no override).
func (l *Ledger) StateAt(t time.Time, target string) State {
	st := State{Environment: l.Environment, At: t}
	var reasons, by []string
	overridden := true
	for _, f := range l.Freezes {
		if !f.Covers(t) {
			continue
		}
		st.Frozen = true
		st.IDs = append(st.IDs, f.ID)
		reasons = append(reasons, f.Reason)
		if !slices.Contains(by, f.By) {
			by = append(by, f.By)
		}
		o, ok := overrideFor(f, target)
		if ok {
			st.Overrides = append(st.Overrides, o)
		}
		overridden = overridden && ok
	}
	if !st.Frozen {
		return st
	}
	st.Reason = strings.Join(reasons, "; ")
	st.By = strings.Join(by, ", ")
	st.Overridden = overridden && target != ""
	st.Until = l.freeAfter(t)
	return st
}

// freeAfter is the first instant from t on that no freeze covers.
func (l *Ledger) freeAfter(t time.Time) time.Time {
	free := t
	for moved := true; moved; {
		moved = false
		for _, f := range l.Freezes {
			if f.Covers(free) {
				free, moved = f.Until, true
			}
		}
	}
	return free
}

// overrideFor is the latest override of f for target.
func overrideFor(f Freeze, target string) (Override, bool) {
	for i := len(f.Overrides) - 1; i >= 0; i-- {
		if target != "" && f.Overrides[i].Target == target {
			return f.Overrides[i], true
		}
	}
	return Override{}, false
}

// Upcoming lists the freezes in force at t or starting later, in time order.
func (l *Ledger) Upcoming(t time.Time) []Freeze {
	var out []Freeze
	for _, f := range l.Freezes {
		if f.Until.After(t) {
			out = append(out, f)
		}
	}
	return out
}

// CheckTarget refuses what cannot be the workflow ID of a release or a change.
func CheckTarget(target string) error {
	switch {
	case strings.TrimSpace(target) == "":
		return errors.New("target: required: the release (release/<service>/<env>) or change (change/<name>) that may pass")
	case len(target) > MaxTargetLen:
		return fmt.Errorf("target: %d bytes, at most %d", len(target), MaxTargetLen)
	case !strings.HasPrefix(target, "release/") && !strings.HasPrefix(target, "change/"):
		return fmt.Errorf("target: %q is neither release/<service>/<env> nor change/<name>", clipped(target))
	}
	return nil
}

func checkText(by, reason string) error {
	switch {
	case strings.TrimSpace(by) == "":
		return errors.New("by: required: say who you are")
	case len(by) > MaxActorLen:
		return fmt.Errorf("by: %d bytes, at most %d", len(by), MaxActorLen)
	case !utf8.ValidString(by):
		return errors.New("by: not valid UTF-8")
	case strings.TrimSpace(reason) == "":
		return errors.New("reason: required: say why, it is the audit")
	case len(reason) > MaxReasonLen:
		return fmt.Errorf("reason: %d bytes, at most %d", len(reason), MaxReasonLen)
	case !utf8.ValidString(reason):
		return errors.New("reason: not valid UTF-8")
	}
	return nil
}

func checkPeriod(from, until, now time.Time) error {
	switch {
	case from.IsZero():
		return errors.New("from: required")
	case until.IsZero():
		return errors.New("until: required")
	case !until.After(from):
		return fmt.Errorf("until: %s is not after from (%s)", stamp(until), stamp(from))
	case !until.After(now):
		return fmt.Errorf("until: %s is already past (now %s)", stamp(until), stamp(now))
	case until.Sub(from) > MaxLength:
		return fmt.Errorf("until: the freeze would last %s, at most %s", until.Sub(from).Round(time.Hour), MaxLength)
	}
	return nil
}

// stamp writes an instant the same way everywhere: UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func clipped(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
