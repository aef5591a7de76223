package schemas

// Interim: the accessors and the core checks of a change spec that ChangeWorkflow needs,
// until the change loader (LoadChange, change.schema.json) lands with the full checks.

import (
	"fmt"
	"time"
)

// HoldTimeoutOrDefault bounds how long a held release waits for its change.
func (c ChangeSpec) HoldTimeoutOrDefault() time.Duration { return orDefault(c.HoldTimeout, time.Hour) }

// TimeoutOrDefault bounds one run of the command.
func (c CommandStep) TimeoutOrDefault() time.Duration { return orDefault(c.Timeout, 10*time.Minute) }

// TimeoutOrDefault bounds one run of the expand, undo or contract command.
func (m MigrationStep) TimeoutOrDefault() time.Duration { return orDefault(m.Timeout, 30*time.Minute) }

// TimeoutOrDefault bounds one try of the check.
func (c CheckStep) TimeoutOrDefault() time.Duration { return orDefault(c.Timeout, 30*time.Second) }

// IntervalOrDefault is the wait between two tries.
func (c CheckStep) IntervalOrDefault() time.Duration { return orDefault(c.Interval, 10*time.Second) }

// RetriesOrDefault is how many more tries follow a failed one.
func (c CheckStep) RetriesOrDefault() int {
	if c.Retries <= 0 {
		return 3
	}
	return c.Retries
}

// TimeoutOrDefault bounds the wait for people.
func (c ConfirmStep) TimeoutOrDefault() time.Duration { return orDefault(c.Timeout, 24*time.Hour) }

// CountOrDefault is how many people must confirm.
func (c ConfirmStep) CountOrDefault() int { return max(1, c.Count) }

// OnTimeoutOrDefault is what the timeout means: rollback, or confirm.
func (c ConfirmStep) OnTimeoutOrDefault() string {
	if c.OnTimeout == "" {
		return OnTimeoutRollback
	}
	return c.OnTimeout
}

// ValidateChange checks a change as its workflow must before it runs anything: one kind
// per step, unique ids, known dependencies, no cycle, embedded release specs valid.
func ValidateChange(c *ChangeSpec) error {
	var errs []FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if c.Name == "" {
		add("change", "required")
	}
	index := map[string]int{}
	for i, s := range c.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		if s.Kind() == "" {
			add(p, "needs exactly one of release, command, check, confirm, migration")
		}
		if _, dup := index[s.ID]; dup {
			add(p+".id", "%q is used twice", s.ID)
		}
		index[s.ID] = i
		if r := s.Release; r != nil {
			if r.Spec == nil {
				add(p+".release.spec", "not embedded: load the change with LoadChange")
			} else if err := Validate(r.Spec); err != nil {
				add(p+".release.spec", "%v", err)
			}
			if r.Version == "" {
				add(p+".release.version", "required")
			}
		}
	}
	for i, s := range c.Steps {
		for j, dep := range s.After {
			if _, ok := index[dep]; !ok {
				add(fmt.Sprintf("steps[%d].after[%d]", i, j), "no step %q", dep)
			}
		}
	}
	if len(errs) == 0 {
		// Kahn: a step is placed once all its dependencies are; what is left is a cycle.
		placed := map[string]bool{}
		for progress := true; progress; {
			progress = false
			for _, s := range c.Steps {
				if placed[s.ID] {
					continue
				}
				ready := true
				for _, dep := range s.After {
					ready = ready && placed[dep]
				}
				if ready {
					placed[s.ID], progress = true, true
				}
			}
		}
		for i, s := range c.Steps {
			if !placed[s.ID] {
				add(fmt.Sprintf("steps[%d].after", i), "%s is in a cycle", s.ID)
				break
			}
		}
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}
