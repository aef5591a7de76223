package measure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// Environments of the benchmark's releases; visibility queries select by them.
const (
	Environment     = "scale"
	SoakEnvironment = "scale-soak"
)

// ConcurrentConfig describes part (a): Releases releases of v1 -> v2 at once, each of its
// own service on its own memory fleet of Instances instances, with a short soak and no
// approval.
type ConcurrentConfig struct {
	Releases  int           // default 1000
	Instances int           // fleet size (default 4: canary 1, then batches of 2)
	Soak      time.Duration // default 5s
	Interval  time.Duration // check interval (default 1s)
	// Starters start the releases in parallel (default 50), as many CI jobs would.
	Starters int
	Timeout  time.Duration // for the whole part (default 30m)
	// Environment of the releases (default Environment): rounds of one run keep apart.
	Environment string
	// Workers is how many workers serve (filled in by Concurrent, for the table).
	Workers  int
	Progress func(format string, args ...any)
}

func (c *ConcurrentConfig) defaults() {
	if c.Releases == 0 {
		c.Releases = 1000
	}
	if c.Instances == 0 {
		c.Instances = 4
	}
	if c.Soak == 0 {
		c.Soak = 5 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Starters == 0 {
		c.Starters = 50
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Minute
	}
	if c.Environment == "" {
		c.Environment = Environment
	}
	if c.Progress == nil {
		c.Progress = func(string, ...any) {}
	}
}

// ConcurrentResult is what part (a) measured.
type ConcurrentResult struct {
	Config    ConcurrentConfig
	StartAll  time.Duration // from the first start request to the last one accepted
	FinishAll time.Duration // from the first start request to the last release closed
	// Durations of each release, start to close, by the server's clock.
	Durations Summary
	Outcomes  map[string]int // final ZerodownPhase -> releases
	// HistoryEvents per release.
	HistoryEvents Summary
	// Launches counts instances ever created, against Releases x Instances expected.
	Launches, ExpectedLaunches int
	// FleetErrors lists fleets that do not hold exactly Instances healthy attached v2.
	FleetErrors []string
	// WorkerPeakRSS is VmHWM of this process (the worker, its client and the
	// benchmark's bookkeeping) over the part; GoHeap is the Go heap in use at its end.
	WorkerPeakRSS, GoHeap int64
	Latency               []Latency
}

// Summary is a distribution in a few numbers.
type Summary struct {
	N                  int
	P50, P95, P99, Max float64
}

func summarize(v []float64) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return Summary{N: len(s), P50: q(0.5), P95: q(0.95), P99: q(0.99), Max: s[len(s)-1]}
}

// ReleaseSpec is the spec of one benchmark release: service in env on a memory fleet of
// its own, a canary of one soaked for soak with a check every interval, no approval, a
// rolling promote two at a time.
func ReleaseSpec(service, env string, instances int, soak, interval time.Duration) (*schemas.Spec, error) {
	spec, err := schemas.Parse(fmt.Appendf(nil, `service: %s
environment: %s
target: {provider: memory, instances: %d, healthTimeout: 1m}
canary: {instances: 1, soak: %s, analysis: {interval: %s, failureLimit: 2}}
promote: {strategy: rolling, batch: 2}
drain: {timeout: 1m}
`, service, env, instances, soak, interval))
	if err != nil {
		return nil, err
	}
	spec.Target = memory.InFleet(spec.Target, service)
	return spec, nil
}

// Concurrent runs part (a) on c with w serving.
func Concurrent(ctx context.Context, c client.Client, w *Worker, cfg ConcurrentConfig) (*ConcurrentResult, error) {
	cfg.defaults()
	cfg.Workers = len(w.MetricsURLs)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res := &ConcurrentResult{Config: cfg, Outcomes: map[string]int{}}

	specs := make([]*schemas.Spec, cfg.Releases)
	for i := range specs {
		spec, err := ReleaseSpec(fmt.Sprintf("svc-%04d", i), cfg.Environment, cfg.Instances, cfg.Soak, cfg.Interval)
		if err != nil {
			return nil, err
		}
		specs[i] = spec
		w.Fleets.Fleet(spec.Service).Seed("v1", cfg.Instances)
	}
	before := launches(w.Fleets, specs)
	resetPeakRSS()

	cfg.Progress("starting %d releases, %d at a time", cfg.Releases, cfg.Starters)
	began := time.Now()
	if err := startAll(ctx, c, specs, cfg.Starters); err != nil {
		return res, err
	}
	res.StartAll = time.Since(began)
	cfg.Progress("all %d started in %s; waiting for them to finish", cfg.Releases, res.StartAll.Round(time.Millisecond))

	infos, err := waitClosed(ctx, c, cfg.Environment, cfg.Releases, began, cfg.Progress)
	res.FinishAll = time.Since(began)
	if err != nil {
		return res, err
	}
	var durations, events []float64
	for _, info := range infos {
		durations = append(durations, info.GetCloseTime().AsTime().Sub(info.GetStartTime().AsTime()).Seconds())
		events = append(events, float64(info.GetHistoryLength()))
		res.Outcomes[phaseOf(info)]++
	}
	res.Durations, res.HistoryEvents = summarize(durations), summarize(events)

	res.ExpectedLaunches = cfg.Releases * cfg.Instances
	res.Launches = launches(w.Fleets, specs) - before
	for _, spec := range specs {
		if err := holds(w.Fleets.Fleet(spec.Service), "v2", cfg.Instances); err != nil {
			res.FleetErrors = append(res.FleetErrors, spec.Service+": "+err.Error())
		}
	}
	res.WorkerPeakRSS, res.GoHeap = peakRSS(), goHeap()
	res.Latency, err = scrapeLatencies(ctx, w.MetricsURLs...)
	return res, err
}

// startAll starts every release through the same options as `zerodown start`.
func startAll(ctx context.Context, c client.Client, specs []*schemas.Spec, starters int) error {
	next := make(chan *schemas.Spec)
	errs := make(chan error, starters)
	var wg sync.WaitGroup
	for range starters {
		wg.Go(func() {
			for spec := range next {
				in := workflows.ReleaseInput{Spec: *spec, Version: "v2", StartedBy: "bench-scale"}
				if _, err := c.ExecuteWorkflow(ctx, cli.StartOptions(spec, "v2"), workflows.ReleaseWorkflowName, in); err != nil {
					errs <- fmt.Errorf("start %s: %w", spec.ID(), err)
					return
				}
			}
		})
	}
	var err error
feed:
	for _, spec := range specs {
		select {
		case next <- spec:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

// waitClosed polls visibility until n releases of the benchmark's environment started
// after since have closed, and returns them. Polling one count costs the server far
// less than a thousand long polls on histories.
func waitClosed(ctx context.Context, c client.Client, env string, n int, since time.Time, progress func(string, ...any)) ([]*workflowpb.WorkflowExecutionInfo, error) {
	base := fmt.Sprintf("%s = '%s' AND StartTime >= '%s'", workflows.SAEnvironment, env, since.UTC().Add(-time.Second).Format(time.RFC3339Nano))
	closed := base + " AND ExecutionStatus != 'Running'"
	last := time.Now()
	for {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: closed})
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%d releases not finished: %w", n, ctx.Err())
		}
		if err == nil && resp.GetCount() >= int64(n) {
			break
		}
		if err == nil && time.Since(last) >= 10*time.Second {
			progress("%d of %d releases finished", resp.GetCount(), n)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	var out []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: closed, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// phaseOf is the release's last phase as its search attribute says, or the workflow's
// status when it has none.
func phaseOf(info *workflowpb.WorkflowExecutionInfo) string {
	if p := workflows.SearchAttribute(info.GetSearchAttributes(), workflows.SAPhase); p != "" {
		return p
	}
	return info.GetStatus().String()
}

// launches counts the instances ever created in the fleets of specs: a long soak running
// alongside launches in its own fleet, which does not count here.
func launches(fleets *memory.Fleets, specs []*schemas.Spec) int {
	n := 0
	for _, spec := range specs {
		n += fleets.Fleet(spec.Service).Launches()
	}
	return n
}

// holds checks that a fleet serves exactly n healthy attached instances of version and
// nothing else.
func holds(f *memory.Fleet, version string, n int) error {
	st, err := f.Describe(context.Background())
	if err != nil {
		return err
	}
	good := 0
	for _, in := range st.Instances {
		if in.Version == version && in.Healthy && in.Attached {
			good++
		}
	}
	if good != n || len(st.Instances) != n {
		return fmt.Errorf("%d instance(s), %d of them healthy attached %s; want exactly %d", len(st.Instances), good, version, n)
	}
	return nil
}
