package timerules

import (
	"fmt"
	"time"
)

// ResolveAt is the first instant after start at which the wall clock of zone reads at
// ("17:00"): when a go/no-go call set "at 17:00" opens for a release started at start.
// The error says which of the two does not read, without a field name: the caller knows
// the field (goNoGo.at, goNoGo.timezone).
func ResolveAt(at, zone string, start time.Time) (time.Time, error) {
	tod, err := ParseTimeOfDay(at, false)
	if err != nil {
		return time.Time{}, fmt.Errorf("at: %w", err)
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("timezone: %w", err)
	}
	return NextTimeOfDay(tod, loc, start), nil
}
