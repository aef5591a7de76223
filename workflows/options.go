package workflows

// Activity options: timeouts and retries of every activity the release schedules.

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// heartbeatTimeout is how soon Temporal retries an activity whose worker died: the
// worker heartbeats every activity every activities.AutoHeartbeatEvery while it runs.
// Activity options are not part of a workflow's determinism; releases in flight take
// the new timeout for the activities they schedule from now on.
const heartbeatTimeout = 10 * time.Second

// Activity options. Activities are idempotent, so retries are safe; configuration
// errors are non-retryable and end the retries at once.
func shortOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	}
}

func longOptions(d time.Duration) workflow.ActivityOptions {
	o := shortOptions()
	o.StartToCloseTimeout = d
	return o
}

// healthOptions leave the activity room to report target.healthTimeout itself, as a
// non-retryable error that names the instances, before Temporal's own timeout.
func (r *release) healthOptions() workflow.ActivityOptions {
	return longOptions(r.spec.Target.HealthTimeoutOrDefault() + time.Minute)
}

func rollbackOptions() workflow.ActivityOptions {
	o := longOptions(15 * time.Minute)
	o.RetryPolicy.MaximumAttempts = 20
	return o
}
