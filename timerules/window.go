package timerules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FieldWindow is the spec field that lists the windows (release and change specs alike).
const FieldWindow = "window"

// MaxWindows bounds the windows of a spec: a week holds few.
const MaxWindows = 20

// SearchDays bounds how far NextOpen looks ahead: a weekly window opens within a week,
// a day more covers a night the clocks change.
const SearchDays = 8

// Window is a time in which a release or a change may change the fleet: on each of Days,
// from From until Until on the wall clock of Timezone. An Until earlier than From
// crosses midnight: the window opens on the day named and closes the next morning.
type Window struct {
	// Days are the days the window opens on: mon, tue, wed, thu, fri, sat, sun.
	Days []string `json:"days"`
	// From and Until are HH:MM on a 24-hour clock; Until may be 24:00.
	From  string `json:"from"`
	Until string `json:"until"`
	// Timezone is an IANA time zone (Europe/London); its daylight saving is followed.
	Timezone string `json:"timezone"`
}

// dayNames are the names Days take, in time.Weekday order.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// window is a Window read and checked.
type window struct {
	days        [7]bool
	from, until TimeOfDay
	loc         *time.Location
	zone        string
}

// CheckWindows reads every window and reports each problem naming its field
// (window[1].until). A nil or empty list is valid: no window means any time.
func CheckWindows(ws []Window) error {
	_, errs := parseWindows(ws)
	return errs.orNil()
}

func parseWindows(ws []Window) ([]window, FieldErrors) {
	if len(ws) > MaxWindows {
		return nil, FieldErrors{{FieldWindow, fmt.Sprintf("has %d windows; at most %d", len(ws), MaxWindows)}}
	}
	var errs FieldErrors
	out := make([]window, 0, len(ws))
	for i, w := range ws {
		pw, es := parseWindow(w, FieldWindow+"["+strconv.Itoa(i)+"]")
		errs = append(errs, es...)
		out = append(out, pw)
	}
	return out, errs
}

func parseWindow(w Window, path string) (window, FieldErrors) {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{path + "." + field, fmt.Sprintf(format, args...)})
	}
	var pw window
	if len(w.Days) == 0 {
		add("days", "is empty; name the days the window opens on (mon, tue, wed, thu, fri, sat, sun)")
	}
	if len(w.Days) > len(dayNames) {
		add("days", "has %d entries; a week has 7 days", len(w.Days))
	} else {
		for j, name := range w.Days {
			d := dayIndex(name)
			switch {
			case d < 0:
				add("days["+strconv.Itoa(j)+"]", "%s is not a day: use mon, tue, wed, thu, fri, sat or sun", quoteClipped(name))
			case pw.days[d]:
				add("days["+strconv.Itoa(j)+"]", "%s is named twice", quoteClipped(name))
			default:
				pw.days[d] = true
			}
		}
	}
	var err error
	if pw.from, err = ParseTimeOfDay(w.From, false); err != nil {
		add("from", "%v", err)
	}
	if pw.until, err = ParseTimeOfDay(w.Until, true); err != nil {
		add("until", "%v", err)
	} else if w.Until == w.From {
		add("until", "is the same as from (%s): the window would be empty; for a whole day write from 00:00 until 24:00", w.From)
	}
	if pw.loc, err = LoadZone(w.Timezone); err != nil {
		add("timezone", "%v", err)
	}
	pw.zone = w.Timezone
	return pw, errs
}

func dayIndex(name string) int {
	n := strings.ToLower(strings.TrimSpace(name))
	for i, d := range dayNames {
		if n == d {
			return i
		}
	}
	return -1
}

// opening is one occurrence of a window: open in [start, end).
type opening struct {
	start, end time.Time
	window     int
}

// openings are the occurrences of windows that open on the days from `from` days before
// t's day to `to` days after it, in each window's zone, in order of window then day.
func openings(ws []window, t time.Time, from, to int) []opening {
	var out []opening
	for i, w := range ws {
		today := dateOf(t, w.loc)
		for k := -from; k <= to; k++ {
			d := today.add(k)
			if !w.days[d.weekday()] {
				continue
			}
			start := instant(d, w.from, w.loc)
			endDay := d
			if w.until <= w.from {
				endDay = d.add(1) // crosses midnight
			}
			end := instant(endDay, w.until, w.loc)
			// Both ends inside the hour the clocks skip: that night has none of it.
			if end.After(start) {
				out = append(out, opening{start, end, i})
			}
		}
	}
	return out
}

// readChecked reads windows already checked (by CheckWindows, when the spec was
// validated); a window that does not read is left out, never guessed.
func readChecked(ws []Window) []window {
	out := make([]window, 0, len(ws))
	for i, w := range ws {
		if i >= MaxWindows {
			break
		}
		if pw, errs := parseWindow(w, ""); len(errs) == 0 {
			out = append(out, pw)
		}
	}
	return out
}

// Open says whether t falls in one of the windows. No windows means always open.
// Windows are read as CheckWindows reads them; one that does not read never opens.
func Open(ws []Window, t time.Time) bool {
	if len(ws) == 0 {
		return true
	}
	_, ok := openAt(readChecked(ws), t)
	return ok
}

// openAt is the occurrence open at t that closes last, if any.
func openAt(ws []window, t time.Time) (opening, bool) {
	var best opening
	found := false
	// A window lasts at most a day and an hour, so only the last two days' can be open.
	for _, o := range openings(ws, t, 2, 0) {
		if !t.Before(o.start) && t.Before(o.end) && (!found || o.end.After(best.end)) {
			best, found = o, true
		}
	}
	return best, found
}

// NextOpen is the first instant at or after t at which a window is open: t itself when
// one is open at t (or when there are none). It looks SearchDays ahead at most, then
// gives up with an error (only windows that never open, e.g. all inside a skipped hour,
// get there).
func NextOpen(ws []Window, t time.Time) (time.Time, error) {
	at, _, err := nextOpen(ws, t)
	return at, err
}

// nextOpen is NextOpen, and which window opens then (-1 for t itself).
func nextOpen(ws []Window, t time.Time) (time.Time, int, error) {
	if len(ws) == 0 {
		return t, -1, nil
	}
	parsed := readChecked(ws)
	if o, ok := openAt(parsed, t); ok {
		return t, o.window, nil
	}
	var next opening
	found := false
	for _, o := range openings(parsed, t, 0, SearchDays) {
		if o.start.After(t) && (!found || o.start.Before(next.start)) {
			next, found = o, true
		}
	}
	if !found || next.start.Sub(t) > SearchDays*24*time.Hour {
		return time.Time{}, -1, fmt.Errorf("no window opens within %d days of %s", SearchDays, t.UTC().Format(time.RFC3339))
	}
	return next.start, next.window, nil
}

// ClosesAt is when the windows open at t stop being open: the end of the occurrence open
// at t, carried on through any window that is open at that end (22:00-24:00 followed by
// 00:00-02:00 closes at 02:00). It is t itself when no window is open at t, and the zero
// time when there are no windows (nothing ever closes). Windows open on every day of the
// week never close; for them it gives up SearchDays ahead, and the caller asks again then.
func ClosesAt(ws []Window, t time.Time) time.Time {
	if len(ws) == 0 {
		return time.Time{}
	}
	parsed := readChecked(ws)
	limit := t.Add(SearchDays * 24 * time.Hour)
	at := t
	for at.Before(limit) {
		o, ok := openAt(parsed, at)
		if !ok {
			return at
		}
		at = o.end
	}
	return at
}
