package schemas

import "time"

// Accessors give the value a release runs with: the field when set, else its default.
// Parse fills defaults already; these keep a Spec built in code (tests, benchmarks, a
// spec replayed from an older history) from running with a zero where a default was
// meant, without a second copy of the default anywhere else.

// TimeoutOrDefault bounds one run of the hook.
func (h Hook) TimeoutOrDefault() time.Duration { return orDefault(h.Timeout, defaultHookTimeout) }

// IntervalOrDefault is the time between two checks of the canary.
func (a Analysis) IntervalOrDefault() time.Duration {
	return orDefault(a.Interval, defaultInterval)
}

// TimeoutOrDefault bounds the wait for detached instances to drain.
func (d Drain) TimeoutOrDefault() time.Duration { return orDefault(d.Timeout, defaultDrainTimeout) }

// HealthTimeoutOrDefault bounds the wait for new instances to become healthy.
func (t Target) HealthTimeoutOrDefault() time.Duration {
	return orDefault(t.HealthTimeout, defaultHealthTimeout)
}

// TimeoutOrDefault bounds an image bake.
func (b Bake) TimeoutOrDefault() time.Duration { return orDefault(b.Timeout, defaultBakeTimeout) }

// StepSoakOrDefault is how long each traffic step soaks: StepSoak when set, else the
// soak divided evenly across the steps. Zero without traffic steps.
func (c Canary) StepSoakOrDefault() time.Duration {
	if len(c.Traffic) == 0 {
		return 0
	}
	if c.StepSoak > 0 {
		return c.StepSoak.D()
	}
	return c.Soak.D() / time.Duration(len(c.Traffic))
}

func orDefault(d Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d.D()
}
