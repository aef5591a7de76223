// Package activities holds every side effect of a release. Activities are methods on
// Activities, whose dependencies are injected; they never decide what the release does.
package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
)

// Error types the workflow tells apart; all are non-retryable.
const (
	ErrTypeInvalidConfig = "InvalidConfig"
	ErrTypeUnhealthy     = "Unhealthy"
	ErrTypeHookFailed    = "HookFailed"
	ErrTypeNotSupported  = "NotSupported"
)

// Activities is registered with the worker; its methods are the release's activities.
type Activities struct {
	Fleets fleet.Registry
	// Analyzers serve canary checks by provider name (schemas.Analysis.Provider).
	Analyzers map[string]analysis.Analyzer
	// HTTP calls instances directly for hooks and session migration.
	HTTP *http.Client
	// HeartbeatEvery paces heartbeats of long waits.
	HeartbeatEvery time.Duration
	// Notifier tells people about releases (Slack); nil logs the events instead.
	Notifier notify.Notifier
	// Freezes reads the freezes of environments; nil knows of none (tests that do not
	// freeze). The worker reads them from the freeze workflows.
	Freezes FreezeReader
	// Pager pages the people on call (PagerDuty); nil pages nobody and says so. It holds
	// its routing key: nothing the workflow sends carries it.
	Pager notify.Pager
}

// New returns Activities serving the given fleets and analyzers (by provider name). The
// health analyzer reads only the fleet, so it is always there unless analyzers replaces
// it; the others (scrape, prometheus) do I/O of their own and are built by the worker's
// assembly (internal/workerapp), which keeps their libraries out of the workflow's imports.
func New(fleets fleet.Registry, analyzers map[string]analysis.Analyzer) *Activities {
	all := map[string]analysis.Analyzer{schemas.AnalysisHealth: analysis.Health{}}
	for name, an := range analyzers {
		all[name] = an
	}
	return &Activities{
		Fleets:         fleets,
		Analyzers:      all,
		HTTP:           &http.Client{Timeout: 30 * time.Second},
		HeartbeatEvery: time.Second,
	}
}

// TargetInput names the fleet an activity acts on.
type TargetInput struct {
	Target schemas.Target `json:"target"`
}

// IDsInput names instances of a fleet.
type IDsInput struct {
	Target schemas.Target `json:"target"`
	IDs    []string       `json:"ids"`
}

// LaunchInput launches Count instances of Version; Key makes it idempotent.
type LaunchInput struct {
	Target  schemas.Target `json:"target"`
	Key     string         `json:"key"`
	Version string         `json:"version"`
	Image   string         `json:"image,omitempty"`
	Count   int            `json:"count"`
}

// WeightsInput sets per-version traffic shares.
type WeightsInput struct {
	Target  schemas.Target `json:"target"`
	Weights map[string]int `json:"weights"`
}

func (a *Activities) fleet(t schemas.Target) (fleet.Fleet, error) {
	f, err := a.Fleets.For(t)
	if err != nil {
		return nil, nonRetryable(ErrTypeInvalidConfig, err)
	}
	return f, nil
}

// classify turns configuration errors into non-retryable ones; everything else retries.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fleet.ErrInvalidConfig) {
		return nonRetryable(ErrTypeInvalidConfig, err)
	}
	return err
}

func nonRetryable(kind string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), kind, err)
}

// withHeartbeat makes a fleet's long waits heartbeat, at most once per HeartbeatEvery.
func (a *Activities) withHeartbeat(ctx context.Context) context.Context {
	var last time.Time
	every := a.HeartbeatEvery
	return fleet.WithProgress(ctx, func(detail any) {
		if time.Since(last) >= every {
			last = time.Now()
			activity.RecordHeartbeat(ctx, detail)
		}
	})
}

// Describe returns the fleet's state.
func (a *Activities) Describe(ctx context.Context, in TargetInput) (fleet.State, error) {
	f, err := a.fleet(in.Target)
	if err != nil {
		return fleet.State{}, err
	}
	st, err := f.Describe(ctx)
	return st, classify(err)
}

// Launch starts instances. The key makes a retried launch return the same instances.
func (a *Activities) Launch(ctx context.Context, in LaunchInput) ([]fleet.Instance, error) {
	f, err := a.fleet(in.Target)
	if err != nil {
		return nil, err
	}
	out, err := f.Launch(ctx, fleet.LaunchRequest{Key: in.Key, Version: in.Version, Image: in.Image, Count: in.Count})
	return out, classify(err)
}

// WaitHealthy waits until instances pass health checks, heartbeating meanwhile. An
// instance that crashed or failed its checks is a non-retryable Unhealthy error.
func (a *Activities) WaitHealthy(ctx context.Context, in IDsInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	timeout := in.Target.HealthTimeoutOrDefault()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = f.WaitHealthy(a.withHeartbeat(wctx), in.IDs)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err // cancelled, or the activity timed out: Temporal decides
	case wctx.Err() != nil:
		return nonRetryable(ErrTypeUnhealthy, fmt.Errorf("instances %v not healthy after %s (target.healthTimeout): %w", in.IDs, timeout, err))
	case errors.Is(err, fleet.ErrInvalidConfig):
		return classify(err)
	default:
		return nonRetryable(ErrTypeUnhealthy, err)
	}
}

// Attach puts instances behind the load balancer.
func (a *Activities) Attach(ctx context.Context, in IDsInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	// Some providers (an ALB) wait here for the load balancer's own health checks.
	return classify(f.Attach(a.withHeartbeat(ctx), in.IDs))
}

// Detach stops new traffic to instances; in-flight work finishes.
func (a *Activities) Detach(ctx context.Context, in IDsInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	return classify(f.Detach(ctx, in.IDs))
}

// SetWeights sets per-version traffic shares.
func (a *Activities) SetWeights(ctx context.Context, in WeightsInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	return classify(f.SetWeights(ctx, in.Weights))
}

// Terminate stops instances; already-gone instances are fine, so it is safe to retry.
func (a *Activities) Terminate(ctx context.Context, in IDsInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	err = f.Terminate(ctx, in.IDs)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil
	}
	return classify(err)
}

// DrainInput waits for instances to drain for at most Timeout.
type DrainInput struct {
	Target  schemas.Target `json:"target"`
	IDs     []string       `json:"ids"`
	Timeout time.Duration  `json:"timeout"`
}

// DrainResult says whether the instances drained or the timeout passed first.
type DrainResult struct {
	Drained bool          `json:"drained"`
	Waited  time.Duration `json:"waited"`
	Open    int           `json:"open"`
}

// WaitDrained waits until the instances hold no open connections or the drain timeout
// passes; a timeout is an answer, not an error. A retry after a worker crash resumes the
// clock from the heartbeat details instead of starting a fresh timeout.
func (a *Activities) WaitDrained(ctx context.Context, in DrainInput) (DrainResult, error) {
	f, err := a.fleet(in.Target)
	if err != nil {
		return DrainResult{}, err
	}
	var waited time.Duration
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &waited)
	}
	// Kept at once: the worker's heartbeat interceptor repeats the last details, and
	// must not replace the earlier attempt's with none.
	activity.RecordHeartbeat(ctx, waited)
	start := time.Now()
	left := in.Timeout - waited
	if left <= 0 {
		left = time.Millisecond
	}
	wctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	var last time.Time
	wctx = fleet.WithProgress(wctx, func(any) {
		if time.Since(last) >= a.HeartbeatEvery {
			last = time.Now()
			activity.RecordHeartbeat(ctx, waited+time.Since(start))
		}
	})
	err = f.WaitDrained(wctx, in.IDs)
	res := DrainResult{Drained: err == nil, Waited: waited + time.Since(start)}
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		st, derr := f.Describe(ctx)
		if derr == nil {
			for _, id := range in.IDs {
				if inst, ok := st.Find(id); ok {
					res.Open += inst.Connections
				}
			}
		}
		return res, nil
	}
	if err != nil {
		return res, classify(err)
	}
	return res, nil
}

// MigrateInput asks instances to move their sessions elsewhere.
type MigrateInput struct {
	Target schemas.Target `json:"target"`
	IDs    []string       `json:"ids"`
	Path   string         `json:"path"`
}

// MigrateSessions POSTs the migration path on each instance so its clients reconnect
// through the load balancer to another instance. Instances already gone are skipped.
func (a *Activities) MigrateSessions(ctx context.Context, in MigrateInput) (int, error) {
	f, err := a.fleet(in.Target)
	if err != nil {
		return 0, err
	}
	st, err := f.Describe(ctx)
	if err != nil {
		return 0, classify(err)
	}
	asked := 0
	for _, id := range in.IDs {
		inst, ok := st.Find(id)
		if !ok || inst.Address == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+inst.Address+in.Path, nil)
		if err != nil {
			return asked, nonRetryable(ErrTypeInvalidConfig, err)
		}
		resp, err := a.HTTP.Do(req)
		if err != nil {
			return asked, fmt.Errorf("migrate sessions on %s: %w", id, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			return asked, fmt.Errorf("migrate sessions on %s: %s answered %d", id, in.Path, resp.StatusCode)
		}
		asked++
	}
	return asked, nil
}

// CheckInput is one canary check.
type CheckInput struct {
	Target          schemas.Target   `json:"target"`
	Analysis        schemas.Analysis `json:"analysis"`
	Version         string           `json:"version"`
	BaselineVersion string           `json:"baselineVersion"`
	CanaryIDs       []string         `json:"canaryIds"`
	BaselineIDs     []string         `json:"baselineIds"`
}

// CheckOutput is a check's verdict and the fleet as seen by it.
type CheckOutput struct {
	Result analysis.Result `json:"result"`
	Fleet  fleet.State     `json:"fleet"`
}

// Check judges the canary with the configured analyzer.
func (a *Activities) Check(ctx context.Context, in CheckInput) (CheckOutput, error) {
	f, err := a.fleet(in.Target)
	if err != nil {
		return CheckOutput{}, err
	}
	an, ok := a.Analyzers[in.Analysis.Provider]
	if !ok {
		return CheckOutput{}, nonRetryable(ErrTypeInvalidConfig, fmt.Errorf("canary.analysis.provider %q is not served by this worker", in.Analysis.Provider))
	}
	st, err := f.Describe(ctx)
	if err != nil {
		return CheckOutput{}, classify(err)
	}
	req := analysis.Request{Spec: in.Analysis, Version: in.Version, BaselineVersion: in.BaselineVersion}
	if activity.IsActivity(ctx) {
		req.Release = activity.GetInfo(ctx).WorkflowExecution.ID // keeps releases' scrape state apart
	}
	for _, id := range in.CanaryIDs {
		if inst, ok := st.Find(id); ok {
			req.Canary = append(req.Canary, inst)
		}
	}
	for _, id := range in.BaselineIDs {
		if inst, ok := st.Find(id); ok {
			req.Baseline = append(req.Baseline, inst)
		}
	}
	res, err := an.Analyze(ctx, req)
	if err != nil {
		return CheckOutput{}, classify(err)
	}
	res.Time = time.Now()
	return CheckOutput{Result: res, Fleet: st}, nil
}
