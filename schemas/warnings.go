package schemas

import (
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/timerules"
)

// FieldWarning is something valid in a spec that will likely not do what its author
// means: validate prints it, and the spec still runs.
type FieldWarning struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (w FieldWarning) String() string { return w.Path + ": " + w.Message }

// Warnings are the warnings of a valid release spec, in a fixed order.
func Warnings(s *Spec) []FieldWarning {
	if s == nil || s.Deadline == nil {
		return nil
	}
	return rollbackWarning(*s.Deadline, releaseRollback(s, ""))
}

// ChangeWarnings are the warnings of a valid change, in a fixed order.
func ChangeWarnings(c *ChangeSpec) []FieldWarning {
	if c == nil || c.Deadline == nil {
		return nil
	}
	return rollbackWarning(*c.Deadline, changeRollback(c))
}

// releaseRollback is what a release's rollback waits for, one after the other
// (workflows/rollback.go): old instances relaunched and healthy again, the new ones
// detached, then drained. It runs no hooks. prefix names the release within a change.
func releaseRollback(s *Spec, prefix string) []timerules.RollbackPart {
	parts := []timerules.RollbackPart{
		{What: prefix + "target.healthTimeout", Limit: s.Target.HealthTimeoutOrDefault()},
	}
	if d := s.Drain.DeregistrationDelay.D(); d > 0 {
		parts = append(parts, timerules.RollbackPart{What: prefix + "drain.deregistrationDelay", Limit: d})
	}
	return append(parts, timerules.RollbackPart{What: prefix + "drain.timeout", Limit: s.Drain.TimeoutOrDefault()})
}

// changeRollback is what a change's rollback waits for: it undoes its steps one at a time,
// most recent first (workflows/change_end.go), so in the worst case every release rolls
// back and every undo runs to its timeout.
func changeRollback(c *ChangeSpec) []timerules.RollbackPart {
	var parts []timerules.RollbackPart
	for i, s := range c.Steps {
		p := stepPath(i)
		switch {
		case s.Release != nil && s.Release.Spec != nil:
			parts = append(parts, releaseRollback(s.Release.Spec, p+" ("+s.Release.File+") ")...)
		case s.Command != nil && len(s.Command.Undo) > 0:
			parts = append(parts, timerules.RollbackPart{What: p + ".command.undo", Limit: s.Command.TimeoutOrDefault()})
		case s.Migration != nil && len(s.Migration.Undo) > 0:
			parts = append(parts, timerules.RollbackPart{What: p + ".migration.undo", Limit: s.Migration.TimeoutOrDefault()})
		}
	}
	return parts
}

// maxNamedParts bounds the parts a warning lists; the total counts them all.
const maxNamedParts = 6

func rollbackWarning(d timerules.Deadline, parts []timerules.RollbackPart) []FieldWarning {
	margin := d.Margin()
	need, fits := timerules.RollbackFits(parts, margin)
	if fits || margin <= 0 {
		return nil
	}
	named := make([]string, 0, min(len(parts), maxNamedParts)+1)
	for i, p := range parts {
		if i == maxNamedParts {
			named = append(named, fmt.Sprintf("%d more", len(parts)-i))
			break
		}
		named = append(named, p.What+" "+FormatDuration(p.Limit))
	}
	return []FieldWarning{{
		Path: FieldDeadline,
		Message: fmt.Sprintf("a rollback may take up to %s (%s), more than the %s between decideBy %s and doneBy %s: started at decideBy it may not be over by doneBy; move decideBy earlier or shorten those timeouts",
			FormatDuration(need), strings.Join(named, " + "), FormatDuration(margin), d.DecideBy, d.DoneBy),
	}}
}

// RollbackEstimate is the longest the rollback of a release of s may take: with
// onDeadline ask, people have until doneBy less this to extend.
func RollbackEstimate(s *Spec) time.Duration { return timerules.RollbackTime(releaseRollback(s, "")) }

// ChangeRollbackEstimate is the longest the rollback of change c may take.
func ChangeRollbackEstimate(c *ChangeSpec) time.Duration {
	return timerules.RollbackTime(changeRollback(c))
}
