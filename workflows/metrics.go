package workflows

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// Operator metrics, served on the worker's /metrics beside the SDK's. The SDK drops
// them while a workflow replays, so each is counted once however often a worker replays.
const (
	MetricReleases      = "zerodown_releases"       // counter; tag outcome: Succeeded, RolledBack, Aborted, Failed
	MetricRollbacks     = "zerodown_rollbacks"      // counter
	MetricFailedChecks  = "zerodown_checks_failed"  // counter
	MetricPhaseDuration = "zerodown_phase_duration" // timer; tag phase
)

func (r *release) metrics(ctx workflow.Context) client.MetricsHandler {
	return workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		"service": r.spec.Service, "environment": r.spec.Environment,
	})
}

// phaseEnded records how long the phase that just ended took, across runs.
func (r *release) phaseEnded(ctx workflow.Context) {
	if n := len(r.st.Status.Phases); n > 0 {
		prev := r.st.Status.Phases[n-1]
		r.metrics(ctx).WithTags(map[string]string{"phase": string(prev.Phase)}).
			Timer(MetricPhaseDuration).Record(workflow.Now(ctx).Sub(prev.Started))
	}
}

func (r *release) countOutcome(ctx workflow.Context, p Phase) {
	outcome := string(p)
	if p == PhaseRolledBack && r.abort != nil {
		outcome = "Aborted"
	}
	r.metrics(ctx).WithTags(map[string]string{"outcome": outcome}).Counter(MetricReleases).Inc(1)
}
