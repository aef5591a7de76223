package schemas

import (
	"regexp"
	"time"
)

// Remind tells the people a human step names (a release's approval gate, a change's
// confirm step) that it opens soon, and escalates when nobody answers it in time. The
// people come from the spec only: a reminder never mentions anyone named at run time.
type Remind struct {
	// Before is how long before the step opens the reminder goes, when the opening can be
	// foreseen (the after-soak gate: the soak's end); otherwise it goes when it opens.
	Before Duration `json:"before,omitempty"`
	// Mention is who the reminder mentions: Slack user IDs (U…, W…), user group IDs (S…),
	// or @handles, shown as written (Slack pings IDs only).
	Mention []string `json:"mention,omitempty"`
	// EscalateAfter is how long the step may stay unanswered after it opens before it
	// escalates to EscalateTo (and pages, with Page).
	EscalateAfter Duration `json:"escalateAfter,omitempty"`
	EscalateTo    []string `json:"escalateTo,omitempty"`
	// Page also pages (PagerDuty Events v2, configured on the worker) with the reminder and
	// the escalation.
	Page bool `json:"page,omitempty"`
}

// MaxMentions bounds remind.mention and remind.escalateTo.
const MaxMentions = 20

// MaxRemindBefore bounds remind.before: a reminder a week ahead reminds nobody.
const MaxRemindBefore = 7 * 24 * time.Hour

// mentionRE is what remind.mention and remind.escalateTo take: a Slack user ID, a user
// group ID, or an @handle.
var mentionRE = regexp.MustCompile(`^([UWS][A-Z0-9]{2,20}|@[a-z0-9][a-z0-9._-]{0,79})$`)

// checkRemind holds a remind block to what a reminder can do; timeout is the step's (how
// long it waits before its onTimeout), 0 if it has none.
func checkRemind(r *Remind, path string, timeout time.Duration, add func(path, format string, args ...any)) {
	if r == nil {
		return
	}
	checkMentions(r.Mention, path+".mention", add)
	checkMentions(r.EscalateTo, path+".escalateTo", add)
	switch {
	case r.Before < 0 || r.Before.D() > MaxRemindBefore:
		add(path+".before", "is %s; it must be between 0 and %s", FormatDuration(r.Before.D()), FormatDuration(MaxRemindBefore))
	case r.EscalateAfter < 0 || r.EscalateAfter.D() > MaxDuration:
		add(path+".escalateAfter", "is %s; it must be between 0 and %s", FormatDuration(r.EscalateAfter.D()), FormatDuration(MaxDuration))
	}
	if len(r.Mention) == 0 && len(r.EscalateTo) == 0 && !r.Page {
		add(path, "names nobody: set mention, escalateTo or page")
	}
	if len(r.EscalateTo) > 0 && r.EscalateAfter == 0 {
		add(path+".escalateTo", "is set without escalateAfter: say how long the step may stay unanswered")
	}
	if r.EscalateAfter > 0 && len(r.EscalateTo) == 0 && !r.Page {
		add(path+".escalateAfter", "is set, but there is nobody to escalate to: set escalateTo or page")
	}
	if timeout > 0 && r.EscalateAfter.D() >= timeout {
		add(path+".escalateAfter", "is %s, not less than the timeout (%s): the step times out before it escalates", FormatDuration(r.EscalateAfter.D()), FormatDuration(timeout))
	}
}

func checkMentions(list []string, path string, add func(path, format string, args ...any)) {
	if len(list) > MaxMentions {
		add(path, "has %d entries; at most %d", len(list), MaxMentions)
		return
	}
	for i, m := range list {
		if !mentionRE.MatchString(m) {
			add(joinIndex(path, i), "%q is not a Slack user ID (U…, W…), user group ID (S…) or @handle", clipValue(m))
		}
		for j := range i {
			if list[j] == m {
				add(joinIndex(path, i), "%q is already %s", clipValue(m), joinIndex(path, j))
				break
			}
		}
	}
}

// clipValue keeps an invalid value short in an error message.
func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
