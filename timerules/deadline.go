package timerules

import (
	"fmt"
	"time"
)

// FieldDeadline is the spec field of the deadline (release and change specs alike).
const FieldDeadline = "deadline"

// What happens at decideBy.
const (
	// OnDeadlineRollback rolls back at decideBy whatever is happening (the default).
	OnDeadlineRollback = "rollback"
	// OnDeadlineAsk opens a gate at decideBy that asks whether to go on; nobody answering
	// in time means rollback.
	OnDeadlineAsk = "ask"
)

// Deadline is when a release or a change must have reached its end, or roll back so
// that the rollback is over by DoneBy (the system must be up for the call centre at 7).
//
// DecideBy and DoneBy are both times of day ("06:00") in Timezone, or both RFC3339
// instants ("2026-12-01T06:00:00Z"). Times of day are resolved when the release starts:
// decideBy is the first such time after the start, doneBy the first after decideBy, so
// "06:00" and "07:00" mean the morning after a 01:30 start.
type Deadline struct {
	DecideBy string `json:"decideBy"`
	DoneBy   string `json:"doneBy"`
	// Timezone is the IANA zone of times of day; an RFC3339 instant carries its own offset.
	Timezone string `json:"timezone,omitempty"`
	// OnDeadline is rollback (the default) or ask.
	OnDeadline string `json:"onDeadline,omitempty"`
}

// deadline is a Deadline read: either two times of day in a zone or two instants.
type deadline struct {
	byClock                    bool
	decideClock, doneClock     TimeOfDay
	loc                        *time.Location
	decideInstant, doneInstant time.Time
}

// Check reads the deadline and reports each problem naming its field (deadline.doneBy).
func (d Deadline) Check() error {
	_, errs := d.parse()
	return errs.orNil()
}

func (d Deadline) parse() (deadline, FieldErrors) {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{FieldDeadline + "." + field, fmt.Sprintf(format, args...)})
	}
	var p deadline
	decideClock, decideAt, decideErr := readMoment(d.DecideBy)
	doneClock, doneAt, doneErr := readMoment(d.DoneBy)
	if decideErr != nil {
		add("decideBy", "%v", decideErr)
	}
	if doneErr != nil {
		add("doneBy", "%v", doneErr)
	}
	if decideErr == nil && doneErr == nil {
		p.byClock = decideAt.IsZero()
		switch {
		case p.byClock != doneAt.IsZero():
			add("doneBy", "is %s but decideBy is %s: write both as times of day (06:00) or both as RFC3339 instants", kind(doneAt), kind(decideAt))
		case p.byClock:
			p.decideClock, p.doneClock = decideClock, doneClock
			if decideClock == doneClock {
				add("doneBy", "is the same time as decideBy (%s): it would leave a day for the rollback; write the time by which the system must be up", d.DecideBy)
			}
		default:
			p.decideInstant, p.doneInstant = decideAt, doneAt
			if !doneAt.After(decideAt) {
				add("doneBy", "%s is not after decideBy (%s)", d.DoneBy, d.DecideBy)
			}
		}
	}
	if decideErr == nil && decideAt.IsZero() || doneErr == nil && doneAt.IsZero() || d.Timezone != "" {
		var err error
		if p.loc, err = LoadZone(d.Timezone); err != nil {
			if d.Timezone == "" {
				add("timezone", "is required with times of day: name the IANA time zone they are read in, such as Europe/London")
			} else {
				add("timezone", "%v", err)
			}
		}
	}
	switch d.OnDeadline {
	case "", OnDeadlineRollback, OnDeadlineAsk:
	default:
		add("onDeadline", "is %s; use %s or %s", quoteClipped(d.OnDeadline), OnDeadlineRollback, OnDeadlineAsk)
	}
	return p, errs
}

func kind(at time.Time) string {
	if at.IsZero() {
		return "a time of day"
	}
	return "an RFC3339 instant"
}

// readMoment reads a time of day (instant zero) or an RFC3339 instant.
func readMoment(s string) (TimeOfDay, time.Time, error) {
	if len(s) == 5 {
		tod, err := ParseTimeOfDay(s, false)
		return tod, time.Time{}, err
	}
	if s == "" {
		return 0, time.Time{}, fmt.Errorf("is required: a time of day (06:00) or an RFC3339 instant (2026-12-01T06:00:00Z)")
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil || len(s) > 64 || at.Year() < 2000 || at.Year() > 9999 {
		return 0, time.Time{}, fmt.Errorf("%s is neither a time of day (06:00) nor an RFC3339 instant (2026-12-01T06:00:00Z)", quoteClipped(s))
	}
	return 0, at, nil
}

// Resolve gives the instants of the deadline for a release or change that starts at
// start: times of day become the first decideBy after start and the first doneBy after
// that; instants are taken as they are, and refused when decideBy is not after start.
func (d Deadline) Resolve(start time.Time) (decideBy, doneBy time.Time, err error) {
	p, errs := d.parse()
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, errs
	}
	if !p.byClock {
		if !p.decideInstant.After(start) {
			return time.Time{}, time.Time{}, FieldErrors{{FieldDeadline + ".decideBy",
				fmt.Sprintf("%s is not after the start (%s): there would be no time to decide", d.DecideBy, start.UTC().Format(time.RFC3339))}}
		}
		return p.decideInstant, p.doneInstant, nil
	}
	decideBy = NextTimeOfDay(p.decideClock, p.loc, start)
	return decideBy, NextTimeOfDay(p.doneClock, p.loc, decideBy), nil
}

// Margin is the time the deadline leaves for a rollback, doneBy - decideBy, as the wall
// clock reads it for times of day: on a night the clocks change it is an hour shorter or
// longer. The zero duration when the deadline does not read.
func (d Deadline) Margin() time.Duration {
	p, errs := d.parse()
	if len(errs) > 0 {
		return 0
	}
	if !p.byClock {
		return p.doneInstant.Sub(p.decideInstant)
	}
	gap := (p.doneClock - p.decideClock + endOfDay) % endOfDay
	return time.Duration(gap) * time.Minute
}

// Action is what happens at decideBy: OnDeadlineRollback unless the spec says ask.
func (d Deadline) Action() string {
	if d.OnDeadline == OnDeadlineAsk {
		return OnDeadlineAsk
	}
	return OnDeadlineRollback
}

// Zone is the zone the deadline is shown in: its timezone, else UTC.
func (d Deadline) Zone() *time.Location {
	if loc, err := LoadZone(d.Timezone); err == nil {
		return loc
	}
	return time.UTC
}
