package timerules

import (
	"fmt"
	"time"
)

// The texts status and Slack show while a release waits on the clock. They take the
// instants the caller resolved, so they read the same on every replay.

// WaitingText says what a release outside its windows waits for: "waiting for the
// window, opens Tue 01:30 Europe/London". Empty when a window is open at now.
func WaitingText(ws []Window, now time.Time) string {
	at, i, err := nextOpen(ws, now)
	switch {
	case err != nil:
		return fmt.Sprintf("waiting for the window, which opens on none of the next %d days", SearchDays)
	case i < 0 || !at.After(now):
		return ""
	}
	return "waiting for the window, opens " + OpensText(at, ws[i].Timezone)
}

// OpensText names an instant as a person in zone reads it: "Tue 01:30 Europe/London".
func OpensText(at time.Time, zone string) string {
	loc, err := LoadZone(zone)
	if err != nil {
		loc, zone = time.UTC, "UTC"
	}
	return at.In(loc).Format("Mon 15:04") + " " + zone
}

// DeadlineText says how long is left before decideBy: "2h13m left before decideBy 06:00
// Europe/London", or "decideBy 06:00 Europe/London passed 4m ago". The day is named when
// decideBy is more than a day away.
func DeadlineText(d Deadline, decideBy, now time.Time) string {
	zone := d.Timezone
	if _, err := LoadZone(zone); err != nil {
		zone = "UTC"
	}
	layout := "15:04"
	if decideBy.Sub(now) > 24*time.Hour {
		layout = "Mon 15:04"
	}
	when := "decideBy " + decideBy.In(d.Zone()).Format(layout) + " " + zone
	if left := decideBy.Sub(now); left > 0 {
		return ShortDuration(left) + " left before " + when
	}
	return when + " passed " + ShortDuration(now.Sub(decideBy)) + " ago"
}

// ShortDuration writes a duration for people, to the minute: "2h13m", "45m", "30s"
// (seconds only under a minute).
func ShortDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	d = d.Truncate(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
