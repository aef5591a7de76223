package schemas

import "time"

// Accessors give the value a change runs with: the field when set, else its default (see
// accessors.go for why). ParseChange fills defaults already; a ChangeSpec built in code or
// replayed from an older history may hold zeros.

// HoldTimeoutOrDefault bounds how long a held release waits for the change's word.
func (c ChangeSpec) HoldTimeoutOrDefault() time.Duration {
	return orDefault(c.HoldTimeout, defaultHoldTimeout)
}

// TimeoutOrDefault bounds one run of the command (and, apart, of its undo).
func (c CommandStep) TimeoutOrDefault() time.Duration {
	return orDefault(c.Timeout, defaultCommandTimeout)
}

// IntervalOrDefault is the time between two tries of the check.
func (c CheckStep) IntervalOrDefault() time.Duration {
	return orDefault(c.Interval, defaultCheckInterval)
}

// TimeoutOrDefault bounds one try of the check.
func (c CheckStep) TimeoutOrDefault() time.Duration {
	return orDefault(c.Timeout, defaultCheckTimeout)
}

// Tries is how many times the check runs at most: once, plus its retries.
func (c CheckStep) Tries() int { return 1 + max(0, c.Retries) }

// ExpectOrDefault is the HTTP status the check wants.
func (h HTTPCheck) ExpectOrDefault() int {
	if h.Expect == 0 {
		return defaultCheckExpect
	}
	return h.Expect
}

// RequiredConfirmations is how many distinct people must confirm: Count, at least 1.
func (c ConfirmStep) RequiredConfirmations() int { return max(defaultConfirmCount, c.Count) }

// TimeoutOrDefault bounds the wait for confirmations.
func (c ConfirmStep) TimeoutOrDefault() time.Duration {
	return orDefault(c.Timeout, defaultConfirmTimeout)
}

// OnTimeoutOrDefault is what a timeout means: OnTimeoutRollback or OnTimeoutConfirm.
func (c ConfirmStep) OnTimeoutOrDefault() string {
	if c.OnTimeout == "" {
		return defaultConfirmOnTimeout
	}
	return c.OnTimeout
}

// Approval is the confirm step's people as an approval policy, so that who may confirm is
// decided by the same code as who may approve a release: Eligible, CheckActor, People.
func (c ConfirmStep) Approval() Approval {
	return Approval{Required: true, Approvers: c.Approvers, Groups: c.Groups, Count: c.RequiredConfirmations(), Timeout: c.Timeout}
}

// TimeoutOrDefault bounds each of expand, undo and contract.
func (m MigrationStep) TimeoutOrDefault() time.Duration {
	return orDefault(m.Timeout, defaultMigrationTimeout)
}
