package timerules

import "time"

// RollbackPart is one thing a rollback waits for, for at most Limit: old instances
// becoming healthy again (target.healthTimeout), the new ones draining (drain.timeout),
// an undo command (its timeout).
type RollbackPart struct {
	// What names it for the warning: "release web: drain.timeout".
	What  string
	Limit time.Duration
}

// RollbackTime is the longest a rollback of these parts may take, one after the other
// (a change rolls its steps back one at a time, most recent first).
func RollbackTime(parts []RollbackPart) time.Duration {
	var total time.Duration
	for _, p := range parts {
		total += max(p.Limit, 0)
	}
	return total
}

// RollbackFits says whether a rollback of these parts, started at decideBy, is over by
// doneBy in the worst case: the time it may take, and the margin the deadline leaves
// (Deadline.Margin).
func RollbackFits(parts []RollbackPart, margin time.Duration) (need time.Duration, fits bool) {
	need = RollbackTime(parts)
	return need, need <= margin
}
