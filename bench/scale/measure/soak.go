package measure

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/workflows"
)

// SoakConfig describes part (b): one release whose soak holds Checks checks, with time
// scaled down. The history depends on how many checks there are, not on how long the
// timers last, so 1,440 checks a second apart leave the history of a 4-hour soak checked
// every 10 seconds. Not faster: the server fires a timer no sooner than about a second
// after it started (a 100 ms timer fires after 1 s), so a shorter interval would only
// stretch each check to a second and cut their number. And not by the clock alone: the
// soak clock counts each timer's dispatch latency too, so 24 minutes would hold fewer
// than 1,440 checks (about 1,320 here). The soak is set longer, and the benchmark ends
// it with a promote (as a human who skips the rest of a soak does) once the last check
// has been scheduled.
type SoakConfig struct {
	Checks   int           // default 1440
	Interval time.Duration // default 1s
	// ChecksPerRun is passed to the release (0: the workflow's default).
	ChecksPerRun int
	Timeout      time.Duration // default 30m
	Progress     func(format string, args ...any)
}

func (c *SoakConfig) defaults() {
	if c.Checks == 0 {
		c.Checks = 1440
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = time.Hour
	}
	if c.Progress == nil {
		c.Progress = func(string, ...any) {}
	}
}

// MaxEventsPerRun is the goal: a run's history stays within it, far below Temporal's
// limits (51,200 events, where the server terminates a run, and a warning at 10,240).
const MaxEventsPerRun = 4096

// Run is one run of the continue-as-new chain.
type Run struct {
	RunID  string
	Checks int // Check activities scheduled in this run
	Events int
	Bytes  int64
	Ended  enumspb.EventType // the last event: continued as new, completed, ...
}

// SoakResult is what part (b) measured.
type SoakResult struct {
	Config SoakConfig
	Phase  workflows.Phase
	Wall   time.Duration
	Runs   []Run
}

// Checks is the number of checks across the chain.
func (r *SoakResult) Checks() int {
	n := 0
	for _, run := range r.Runs {
		n += run.Checks
	}
	return n
}

// MaxEvents is the longest run's history.
func (r *SoakResult) MaxEvents() int {
	m := 0
	for _, run := range r.Runs {
		m = max(m, run.Events)
	}
	return m
}

// LongSoak runs part (b) on c with w serving, and reads back every run's history.
func LongSoak(ctx context.Context, c client.Client, w *Worker, cfg SoakConfig) (*SoakResult, error) {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	// Twice the checks' time: the promote, not the clock, ends the soak.
	spec, err := ReleaseSpec("long-soak", SoakEnvironment, 2, 2*time.Duration(cfg.Checks)*cfg.Interval, cfg.Interval)
	if err != nil {
		return nil, err
	}
	w.Fleets.Fleet(spec.Service).Seed("v1", 2)
	res := &SoakResult{Config: cfg}
	cfg.Progress("soaking with a check every %s until %d checks (%s at most)", cfg.Interval, cfg.Checks, spec.Canary.Soak.D())
	began := time.Now()
	in := workflows.ReleaseInput{Spec: *spec, Version: "v2", StartedBy: "bench-scale", ChecksPerRun: cfg.ChecksPerRun}
	run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(spec, "v2"), workflows.ReleaseWorkflowName, in)
	if err != nil {
		return nil, err
	}
	// Taken now: once Get has followed the chain, GetRunID names its last run.
	first := run.GetRunID()
	promoted := make(chan error, 1)
	go func() { promoted <- promoteAfterChecks(ctx, c, run.GetID(), first, cfg.Checks) }()
	var st workflows.Status
	err = run.Get(ctx, &st) // follows the continue-as-new chain to its end
	res.Wall, res.Phase = time.Since(began), st.Phase
	if err != nil {
		return res, fmt.Errorf("the long soak ended with: %w", err)
	}
	if err := <-promoted; err != nil {
		return res, err
	}
	res.Runs, err = chain(ctx, c, run.GetID(), first)
	return res, err
}

// promoteAfterChecks follows the release's history as it grows, across its
// continue-as-new chain, and sends promote once n checks have been scheduled.
func promoteAfterChecks(ctx context.Context, c client.Client, id, runID string, n int) error {
	checks := 0
	for runID != "" {
		next := ""
		it := c.GetWorkflowHistory(ctx, id, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return fmt.Errorf("follow the long soak: %w", err)
			}
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "Check" {
				if checks++; checks == n {
					h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
						WorkflowID: id, UpdateName: workflows.UpdatePromote,
						Args:         []any{workflows.ActorRequest{By: "bench-scale"}},
						WaitForStage: client.WorkflowUpdateStageCompleted,
					})
					if err == nil {
						err = h.Get(ctx, nil)
					}
					if err != nil {
						return fmt.Errorf("promote after %d checks: %w", n, err)
					}
					return nil
				}
			}
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		runID = next
	}
	return fmt.Errorf("the long soak ended after %d of %d checks", checks, n)
}

// chain walks the continue-as-new chain from its first run and counts each run's events.
func chain(ctx context.Context, c client.Client, id, runID string) ([]Run, error) {
	var runs []Run
	for runID != "" {
		r := Run{RunID: runID}
		next := ""
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return runs, fmt.Errorf("history of run %s: %w", runID, err)
			}
			r.Events++
			r.Ended = ev.GetEventType()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "Check" {
					r.Checks++
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
				next = ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			}
		}
		desc, err := c.DescribeWorkflowExecution(ctx, id, runID)
		if err != nil {
			return runs, err
		}
		r.Bytes = desc.GetWorkflowExecutionInfo().GetHistorySizeBytes()
		runs = append(runs, r)
		runID = next
	}
	return runs, nil
}
