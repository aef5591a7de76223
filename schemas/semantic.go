package schemas

import (
	"fmt"
	"strconv"
)

// checkSemantics holds the rules that relate fields to each other in ways JSON Schema cannot
// say. It runs on a schema-valid spec with defaults filled.
func checkSemantics(s *Spec, lines map[string]int) error {
	var errs []FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...), Line: lines[path]})
	}

	if n := s.Canary.Instances; n > s.Target.Instances {
		add("canary.instances", "is %d but the fleet has %d instances (target.instances); the canary cannot be larger than the fleet", n, s.Target.Instances)
	}

	// The canary must be judged at least once before it is promoted.
	if soak, every := s.Canary.Soak.D(), s.Canary.Analysis.Interval.D(); soak < every {
		add("canary.soak", "%s is shorter than canary.analysis.interval (%s); the soak must last at least one analysis interval", formatDuration(soak), formatDuration(every))
	}

	seen := map[string]int{}
	for i, m := range s.Canary.Analysis.Metrics {
		path := "canary.analysis.metrics[" + strconv.Itoa(i) + "]"
		if first, dup := seen[m.Name]; dup {
			add(path+".name", "%q is already the name of canary.analysis.metrics[%d]", m.Name, first)
		} else {
			seen[m.Name] = i
		}
		if m.Min != nil && m.Max != nil && *m.Min > *m.Max {
			add(path+".min", "is %v, more than max (%v): no value could pass", *m.Min, *m.Max)
		}
	}

	// Zero downtime needs at least one instance serving at every moment of the promotion.
	if u := s.Promote.MaxUnavailable; u > 0 && u >= s.Target.Instances {
		add("promote.maxUnavailable", "is %d but the fleet has %d instances; at least one must keep serving during promotion", u, s.Target.Instances)
	}

	if len(errs) > 0 {
		return &ValidationError{Errors: sorted(errs)}
	}
	return nil
}
