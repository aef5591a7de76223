package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/workflows"
)

// Output formats of status and list.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// timelineLines is how many of the last timeline events status shows.
const timelineLines = 10

func (a *App) statusCommand() *cobra.Command {
	var watch bool
	var output string
	cmd := &cobra.Command{
		Use:   "status SERVICE/ENV [--watch] [--output text|json]",
		Short: "Show a release: phase, versions, traffic, checks, approval, timeline",
		Long: `status queries the release's status; it works on running and finished releases.
With --watch it refreshes every second until the release ends, then exits with the
release's outcome code.

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := releaseID(argv[0])
			if err != nil {
				return err
			}
			if output != OutputText && output != OutputJSON {
				return usagef("--output must be %s or %s", OutputText, OutputJSON)
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if !watch {
				st, err := fetchStatus(ctx, c, id)
				if err != nil {
					return err
				}
				return a.writeStatus(st, output, true)
			}
			return a.watch(ctx, c, id, output)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until the release ends; exit with its outcome code")
	cmd.Flags().StringVarP(&output, "output", "o", OutputText, "text or json")
	return cmd
}

func (a *App) writeStatus(st workflows.Status, output string, pretty bool) error {
	if output == OutputJSON {
		enc := json.NewEncoder(a.Stdout)
		if pretty {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(st)
	}
	_, err := io.WriteString(a.Stdout, RenderStatus(st, time.Now()))
	return err
}

// watch redraws the status until the release ends. On a terminal the screen is redrawn
// in place; into a pipe or file, a new status is written only when it changed.
func (a *App) watch(ctx context.Context, c client.Client, id, output string) error {
	tty := isTerminal(a.Stdout)
	last := ""
	tick := time.NewTicker(a.PollInterval)
	defer tick.Stop()
	for {
		st, err := fetchStatus(ctx, c, id)
		if err != nil && ctx.Err() != nil {
			return WithCode(ExitError, errors.New("stopped watching"))
		}
		if err != nil {
			return err
		}
		var text string
		if output == OutputJSON {
			b, _ := json.Marshal(st)
			text = string(b) + "\n"
		} else {
			text = RenderStatus(st, time.Now())
		}
		if tty && output == OutputText {
			fmt.Fprint(a.Stdout, "\033[H\033[2J"+text)
		} else if text != last && !sameIgnoringClock(text, last, output) {
			if last != "" && output == OutputText {
				fmt.Fprintln(a.Stdout)
			}
			fmt.Fprint(a.Stdout, text)
		}
		last = text
		if st.Phase.Terminal() {
			if code := OutcomeCode(st); code != ExitSucceeded {
				return &CodeError{Code: code, Err: errors.New(Outcome(st)), Silent: true}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return WithCode(ExitError, errors.New("stopped watching"))
		case <-tick.C:
		}
	}
}

// sameIgnoringClock says two renderings differ only in relative times ("5m ago", the soak
// countdown), which
// would otherwise make a piped --watch print the same status every second.
func sameIgnoringClock(a, b, output string) bool {
	if output != OutputText {
		return a == b
	}
	strip := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "phase ") && !strings.HasPrefix(l, "soak ") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	return strip(a) == strip(b)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// fetchStatus returns a release's status. A release that ended is read from its result
// (or, if it rolled back, its failure's details), which needs no worker; a running one is
// queried.
func fetchStatus(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	var st workflows.Status
	dctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(dctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return st, WithCode(ExitError, fmt.Errorf("no release %s", id))
		}
		return st, WithCode(ExitError, fmt.Errorf("describe %s: %w", id, err))
	}
	info := d.GetWorkflowExecutionInfo()
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		gctx, cancel := context.WithTimeout(ctx, rpcTimeout)
		defer cancel()
		err := c.GetWorkflow(gctx, id, info.GetExecution().GetRunId()).Get(gctx, &st)
		if err == nil {
			return st, nil
		}
		if fst, ok := statusFromError(err); ok {
			return fst, nil
		}
	}
	st, err = queryStatus(ctx, c, id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isDeadline(err) {
			return st, WithCode(ExitError, fmt.Errorf("no worker answered the status query of %s within %s (is zerodown-worker running?)", id, rpcTimeout))
		}
		return st, WithCode(ExitError, fmt.Errorf("query %s: %w", id, err))
	}
	return st, nil
}

// RenderStatus is the text form of a status, as `zerodown status` prints it.
func RenderStatus(st workflows.Status, now time.Time) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	from := st.PreviousVersion
	if from == "" {
		from = "(none)"
	}
	phase := string(st.Phase)
	if since := phaseStart(st); !since.IsZero() {
		phase += fmt.Sprintf(" since %s (%s ago)", since.Local().Format("15:04:05"), ago(now.Sub(since)))
	}
	if st.Paused {
		phase += " [PAUSED"
		if st.PausedBy != "" {
			phase += " by " + st.PausedBy
		}
		phase += "]"
	}
	started := ""
	if !st.Started.IsZero() {
		started = ", started " + st.Started.Local().Format("2006-01-02 15:04:05")
		if st.StartedBy != "" {
			started += " by " + st.StartedBy
		}
	}
	w("release  %s: %s %s -> %s in %s%s", st.ReleaseID, st.Service, from, st.Version, st.Environment, started)
	w("phase    %s", phase)
	b.WriteString(RenderClock(st.Clock, now))
	if st.Batch > 0 {
		w("batch    %d/%d", st.Batch, st.Batches)
	}
	if len(st.Versions) > 0 {
		for i, v := range st.Versions {
			label := "versions"
			if i > 0 {
				label = ""
			}
			w("%-8s %-12s %d instance(s), %d healthy, %d attached", label, v.Version, v.Total, v.Healthy, v.Attached)
		}
		w("desired  %d", st.Desired)
	}
	if len(st.Traffic) > 0 {
		versions := make([]string, 0, len(st.Traffic))
		for v := range st.Traffic {
			versions = append(versions, v)
		}
		slices.Sort(versions)
		parts := make([]string, 0, len(versions))
		for _, v := range versions {
			parts = append(parts, fmt.Sprintf("%s %d%%", v, st.Traffic[v]))
		}
		line := strings.Join(parts, ", ")
		if st.TrafficStep > 0 {
			line += fmt.Sprintf(" (traffic step %d of %d: the canary takes %d%% of requests)", st.TrafficStep, st.TrafficSteps, st.CanaryWeight)
		}
		w("traffic  %s", line)
	}
	for i, srv := range st.Servers { // in place: each fixed server
		label := "servers"
		if i > 0 {
			label = ""
		}
		w("%-8s %-12s %-10s %s", label, srv.Name, orDefault(srv.Version, "(unknown)"), srv.State)
	}
	if !st.Phase.Terminal() && (st.SoakRemaining > 0 || st.Phase == workflows.PhaseSoaking) {
		line := fmt.Sprintf("soak     %s left", st.SoakRemaining.Round(time.Second))
		if !st.SoakEndsAt.IsZero() && !st.Paused {
			line += " (ends " + st.SoakEndsAt.Local().Format("15:04:05") + ")"
		}
		w("%s", line)
	}
	if pa := st.PendingApproval; pa != nil {
		who := "anyone"
		if len(pa.Approvers) > 0 {
			who = strings.Join(pa.Approvers, ", ")
		}
		line := fmt.Sprintf("approval waiting for %s since %s", who, pa.Since.Local().Format("15:04:05"))
		if !pa.Deadline.IsZero() {
			line += fmt.Sprintf("; %s at %s", orDefault(pa.OnTimeout, "timeout"), pa.Deadline.Local().Format("2006-01-02 15:04"))
		}
		if !pa.RemindedAt.IsZero() {
			line += "; reminded " + pa.RemindedAt.Local().Format("15:04:05")
		}
		if !pa.EscalatedAt.IsZero() {
			line += "; escalated " + pa.EscalatedAt.Local().Format("15:04:05")
		}
		w("%s", line)
	}
	if st.PageError != "" {
		w("paging   failed: %s", oneLine(st.PageError))
	}
	if len(st.Checks) > 0 || st.FailedChecks > 0 {
		w("checks   %d run, %d failed; last:", len(st.Checks), st.FailedChecks)
		for _, ch := range st.Checks[max(0, len(st.Checks)-3):] {
			w("  %s %-12s %s", ch.Time.Local().Format("15:04:05"), ch.Verdict, oneLine(ch.Summary))
		}
	}
	if st.Error != "" {
		w("error    %s", oneLine(st.Error))
	}
	if len(st.Timeline) > 0 {
		w("timeline (last %d of %d):", min(timelineLines, len(st.Timeline)), len(st.Timeline))
		for _, ev := range st.Timeline[max(0, len(st.Timeline)-timelineLines):] {
			w("  %s", FormatEvent(ev))
		}
	}
	if st.Phase.Terminal() {
		w("%s", Outcome(st))
	}
	return b.String()
}

func phaseStart(st workflows.Status) time.Time {
	for i := len(st.Phases) - 1; i >= 0; i-- {
		if st.Phases[i].Phase == st.Phase {
			return st.Phases[i].Started
		}
	}
	return time.Time{}
}

func ago(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
