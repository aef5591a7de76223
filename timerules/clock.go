package timerules

import (
	"fmt"
	"strconv"
	"time"
)

// TimeOfDay is a wall-clock time, in minutes after midnight; 24*60 is the "24:00" that
// ends a day.
type TimeOfDay int

// endOfDay is "24:00".
const endOfDay TimeOfDay = 24 * 60

// ParseTimeOfDay reads "HH:MM" (two digits each, 00:00 to 23:59). allowEndOfDay also
// accepts "24:00", the end of a window that lasts until midnight.
func ParseTimeOfDay(s string, allowEndOfDay bool) (TimeOfDay, error) {
	bad := func(why string) (TimeOfDay, error) {
		return 0, fmt.Errorf("%s is not a time of day: %s", quoteClipped(s), why)
	}
	if len(s) != 5 || s[2] != ':' || !digits(s[:2]) || !digits(s[3:]) {
		return bad("write it HH:MM on a 24-hour clock, e.g. 01:30 or 17:00")
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	switch {
	case h == 24 && m == 0 && allowEndOfDay:
		return endOfDay, nil
	case h > 23:
		if allowEndOfDay {
			return bad("hours go from 00 to 23 (24:00 ends the day)")
		}
		return bad("hours go from 00 to 23")
	case m > 59:
		return bad("minutes go from 00 to 59")
	}
	return TimeOfDay(h*60 + m), nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String writes it back as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// date is a calendar day, kept in UTC so that adding days never meets a clock change.
type date struct{ t time.Time }

// dateOf is the calendar day of an instant in a zone.
func dateOf(t time.Time, loc *time.Location) date {
	y, m, d := t.In(loc).Date()
	return date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d date) add(days int) date          { return date{d.t.AddDate(0, 0, days)} }
func (d date) weekday() time.Weekday      { return d.t.Weekday() }
func (d date) at(tod TimeOfDay) time.Time { return d.t.Add(time.Duration(tod) * time.Minute) }
func (d date) String() string             { return d.t.Format("Mon 2006-01-02") }

// instant is the instant a wall-clock time of a day means in a zone: the first of two
// when the clocks go back over it, the first instant after the gap when they go forward
// over it (01:30 on Europe/London's spring night is 02:00 BST).
func instant(d date, tod TimeOfDay, loc *time.Location) time.Time {
	wall := d.at(tod) // the wall-clock reading, written as if it were UTC
	// The offsets in force around that day: a zone changes offset at most a few times a
	// year, so probes 6 hours apart over ±36 hours see every offset that can apply.
	var offsets []int
	for k := -6; k <= 6; k++ {
		_, off := wall.Add(time.Duration(k) * 6 * time.Hour).In(loc).Zone()
		if !containsInt(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var first time.Time
	latest := wall.Add(-time.Duration(offsets[0]) * time.Second)
	for _, off := range offsets {
		cand := wall.Add(-time.Duration(off) * time.Second)
		if cand.After(latest) {
			latest = cand
		}
		if _, got := cand.In(loc).Zone(); got == off && (first.IsZero() || cand.Before(first)) {
			first = cand
		}
	}
	if !first.IsZero() {
		return first
	}
	// A gap: no offset gives this reading. The latest candidate falls after the clocks
	// jumped, and the zone period it is in starts at the jump: the first instant whose
	// reading is past the wall-clock time asked for.
	if start, _ := latest.In(loc).ZoneBounds(); !start.IsZero() && !start.After(latest) {
		return start
	}
	return latest
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// NextTimeOfDay is the first instant strictly after `after` at which the wall clock of
// zone reads tod ("06:00" the morning after a 01:30 start), by the rule of instant.
func NextTimeOfDay(tod TimeOfDay, loc *time.Location, after time.Time) time.Time {
	d := dateOf(after, loc).add(-1)
	for {
		if t := instant(d, tod, loc); t.After(after) {
			return t
		}
		d = d.add(1)
	}
}

// quoteClipped quotes a value for a message, cut to a readable length.
func quoteClipped(s string) string {
	const most = 40
	if len(s) > most {
		return strconv.Quote(s[:most]) + "..."
	}
	return strconv.Quote(s)
}
