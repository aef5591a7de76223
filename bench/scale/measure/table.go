package measure

import (
	enumspb "go.temporal.io/api/enums/v1"

	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/zerodown/zerodown/workflows"
)

// Markdown is part (a) as a table.
func (r *ConcurrentResult) Markdown() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "%d concurrent releases v1 → v2, each on its own in-memory fleet of %d (canary 1, %s soak checked every %s, "+
		"no approval, rolling promote 2 at a time, drain), %s (SDK defaults), a Temporal dev server (in-memory "+
		"SQLite); started %d at a time.\n\n", c.Releases, c.Instances, c.Soak, c.Interval, workersText(c.Workers), c.Starters)
	b.WriteString("| | |\n|---|--:|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("time to start all", r.StartAll.Round(time.Millisecond).String())
	row("time to finish all (first start → last close)", r.FinishAll.Round(100*time.Millisecond).String())
	row("release duration p50 / p95 / p99 / max", seconds(r.Durations))
	row("outcomes", outcomes(r.Outcomes))
	row("history events per release p50 / max", fmt.Sprintf("%.0f / %.0f", r.HistoryEvents.P50, r.HistoryEvents.Max))
	row("instances launched (expected)", fmt.Sprintf("%d (%d)", r.Launches, r.ExpectedLaunches))
	row("fleets not exactly as wanted", fmt.Sprint(len(r.FleetErrors)))
	row("worker process peak RSS (VmHWM)", mib(r.WorkerPeakRSS))
	row("Go heap in use at the end", mib(r.GoHeap))
	b.WriteString("\nTask latencies from the worker's SDK metrics (interpolated within histogram buckets):\n\n")
	b.WriteString("| | tasks | mean | p50 | p95 | p99 |\n|---|--:|--:|--:|--:|--:|\n")
	for _, l := range r.Latency {
		q := func(v float64) string {
			if math.IsInf(v, 1) {
				return "> " + dur(l.LastBucket)
			}
			return dur(v)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", l.Name, l.Count, dur(l.Mean), q(l.P50), q(l.P95), q(l.P99))
	}
	return b.String()
}

func workersText(n int) string {
	if n <= 1 {
		return "one in-process worker"
	}
	return fmt.Sprintf("%d in-process workers on one task queue, each with its own client connection", n)
}

// SideBySide compares rounds of part (a) that differ in their number of workers.
func SideBySide(rounds []*ConcurrentResult) string {
	var b strings.Builder
	b.WriteString("| workers | time to finish all | release p50 / p99 | workflow task schedule-to-start p99 | activity schedule-to-start p99 | succeeded | peak RSS (all workers) |\n")
	b.WriteString("|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rounds {
		p99 := func(metric string) string {
			for _, l := range r.Latency {
				if l.Metric == metric {
					if math.IsInf(l.P99, 1) {
						return "> " + dur(l.LastBucket)
					}
					return dur(l.P99)
				}
			}
			return "?"
		}
		fmt.Fprintf(&b, "| %d | %s | %.1f s / %.1f s | %s | %s | %d of %d | %s |\n", r.Config.Workers,
			r.FinishAll.Round(100*time.Millisecond), r.Durations.P50, r.Durations.P99,
			p99("temporal_workflow_task_schedule_to_start_latency_seconds"), p99("temporal_activity_schedule_to_start_latency_seconds"),
			r.Outcomes[string(workflows.PhaseSucceeded)], r.Config.Releases, mib(r.WorkerPeakRSS))
	}
	return b.String()
}

// Check says what, if anything, went wrong in part (a).
func (r *ConcurrentResult) Check() error {
	var errs []error
	if n := r.Outcomes[string(workflows.PhaseSucceeded)]; n != r.Config.Releases {
		errs = append(errs, fmt.Errorf("%d of %d releases succeeded (%s)", n, r.Config.Releases, outcomes(r.Outcomes)))
	}
	if r.Launches != r.ExpectedLaunches {
		errs = append(errs, fmt.Errorf("%d instances launched, %d expected", r.Launches, r.ExpectedLaunches))
	}
	for _, e := range r.FleetErrors[:min(5, len(r.FleetErrors))] {
		errs = append(errs, errors.New(e))
	}
	return errors.Join(errs...)
}

// Markdown is part (b) as a table, one row per run of the chain.
func (r *SoakResult) Markdown() string {
	var b strings.Builder
	c := r.Config
	perRun := c.ChecksPerRun
	if perRun == 0 {
		perRun = workflows.DefaultChecksPerRun
	}
	fmt.Fprintf(&b, "One release whose soak holds %d checks, time scaled down: checked every %s (promoted once the last check "+
		"was scheduled), the history of a %s soak checked every 10 s. ChecksPerRun %d. In-memory fleet of 2, one in-process "+
		"worker, Temporal dev server.\n\n",
		c.Checks, c.Interval, time.Duration(c.Checks)*10*time.Second, perRun)
	b.WriteString("| run | soak checks | history events | history size | ended with |\n|--:|--:|--:|--:|---|\n")
	events, bytes := 0, int64(0)
	for i, run := range r.Runs {
		events += run.Events
		bytes += run.Bytes
		fmt.Fprintf(&b, "| %d | %d | %d | %s | %s |\n", i+1, run.Checks, run.Events, kib(run.Bytes), ended(run.Ended))
	}
	fmt.Fprintf(&b, "| all | %d | %d | %s | %s after %s |\n", r.Checks(), events, kib(bytes), r.Phase, r.Wall.Round(time.Second))
	fmt.Fprintf(&b, "\nLongest run: %d events (goal: at most %d).\n", r.MaxEvents(), MaxEventsPerRun)
	return b.String()
}

// Check says what, if anything, went wrong in part (b).
func (r *SoakResult) Check() error {
	var errs []error
	if r.Phase != workflows.PhaseSucceeded {
		errs = append(errs, fmt.Errorf("the long soak ended %s", r.Phase))
	}
	if m := r.MaxEvents(); m > MaxEventsPerRun {
		errs = append(errs, fmt.Errorf("a run holds %d history events, more than %d", m, MaxEventsPerRun))
	}
	return errors.Join(errs...)
}

func ended(t enumspb.EventType) string {
	switch t {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return "continued as new"
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		return "completed"
	}
	return t.String()
}

func outcomes(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func seconds(s Summary) string {
	return fmt.Sprintf("%.1f s / %.1f s / %.1f s / %.1f s", s.P50, s.P95, s.P99, s.Max)
}

func dur(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func kib(b int64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
