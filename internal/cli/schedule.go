package cli

// zerodown schedule: put a release or a change on a Temporal Schedule (schedule/<name>),
// list, pause, unpause, trigger and delete schedules. Each run is a ScheduledRunWorkflow,
// which resolves the version when it starts; see docs/time.md.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // time zones checked here as the server will read them, on any machine

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/workflows"
)

// DefaultCatchupWindow is how late a scheduled run may still start after the server (or
// the schedule) was down when it was due: a daily release missed by more than an hour
// is skipped rather than started at a time nobody expects. --catchup-window changes it.
const DefaultCatchupWindow = time.Hour

// minCatchupWindow is the shortest catch-up window Temporal accepts.
const minCatchupWindow = 10 * time.Second

// scheduleMemo is the memo key that says what a schedule runs, for `schedule list`.
const scheduleMemo = "zerodown"

var scheduleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func checkScheduleName(name string) error {
	if !scheduleName.MatchString(name) {
		return usagef("schedule name %q: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", clip(name))
	}
	return nil
}

func (a *App) scheduleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run a release or a change on a schedule (a Temporal Schedule): create, list, pause, unpause, trigger, delete",
		Long: `A schedule starts a release (or a change) by itself: every day at 09:30 Europe/Paris,
say. Each run resolves the version when it starts (fixed, or printed by a command or a
URL: the latest green build), waits while the environment is frozen (or skips, with
--in-freeze skip), then starts release/<service>/<env> or change/<name> and waits for
it. A run due while the last one still runs is skipped (overlap policy skip). The
schedule is schedule/<name> in the Temporal UI. See docs/time.md.

` + exitCodesHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("zerodown schedule needs a command: %s", strings.Join(subcommandNames(cmd), ", "))
		},
	}
	cmd.AddCommand(a.scheduleCreateCommand(), a.scheduleListCommand(),
		a.scheduleHandleCommand("pause", "Pause a schedule: no run starts until unpause", func(ctx context.Context, h client.ScheduleHandle, note string) error {
			return h.Pause(ctx, client.SchedulePauseOptions{Note: note})
		}),
		a.scheduleHandleCommand("unpause", "Unpause a schedule", func(ctx context.Context, h client.ScheduleHandle, note string) error {
			return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note})
		}),
		a.scheduleHandleCommand("trigger", "Start a run now (skipped if one runs)", func(ctx context.Context, h client.ScheduleHandle, _ string) error {
			return h.Trigger(ctx, client.ScheduleTriggerOptions{})
		}),
		a.scheduleHandleCommand("delete", "Delete a schedule (a run in progress goes on)", func(ctx context.Context, h client.ScheduleHandle, _ string) error {
			return h.Delete(ctx)
		}),
	)
	return cmd
}

// scheduleFlags are the flags of schedule create.
type scheduleFlags struct {
	release, change                     string
	version, versionCommand, versionURL string
	versionTimeout                      time.Duration
	passEnv, cron                       []string
	every                               time.Duration
	timezone, inFreeze, by, note        string
	catchup                             time.Duration
	paused                              bool
}

func (a *App) scheduleCreateCommand() *cobra.Command {
	var sf scheduleFlags
	cmd := &cobra.Command{
		Use:   "create NAME (-f RELEASE.yaml | --change CHANGE.yaml) (--version V | --version-command CMD | --version-url URL) (--cron EXPR | --every D) [--timezone TZ] [--catchup-window D] [--in-freeze wait|skip] [--paused]",
		Short: "Put a release or a change on a schedule",
		Long: `create validates the spec and creates the Temporal Schedule schedule/NAME. The spec is
copied into the schedule: edit the file, then delete and create the schedule again.

--cron takes a cron expression (minute hour day-of-month month day-of-week), in
--timezone (an IANA name; default UTC): daylight saving is the server's business, as
for any Temporal Schedule. --every takes an interval instead.

--version-command runs a command on the worker (split like a shell would, but no shell:
write sh -c '...' for one), in the hooks' clean environment plus --pass-env names and
ZERODOWN_SCHEDULE; its first line of output is the version. --version-url GETs a URL
whose first line is the version. Both are bounded by --version-timeout and 4 KiB.

--catchup-window: a run missed while the server was down starts late only within it
(default 1h). --in-freeze: wait (default) for a freeze of the environment to lift, or
skip the run.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			name := argv[0]
			if err := checkScheduleName(name); err != nil {
				return err
			}
			in, what, err := sf.input(name)
			if err != nil {
				return err
			}
			spec, err := sf.spec()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			defer cancel()
			id := workflows.ScheduleID(name)
			_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
				ID:   id,
				Spec: spec,
				Action: &client.ScheduleWorkflowAction{
					ID:            "scheduled/" + name, // the server appends the run's time
					Workflow:      workflows.ScheduledRunWorkflowName,
					Args:          []any{in},
					TaskQueue:     workflows.TaskQueue,
					StaticSummary: what,
				},
				Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
				CatchupWindow: sf.catchup,
				Paused:        sf.paused,
				Note:          orDefault(sf.note, "created by "+sf.by),
				Memo:          map[string]any{scheduleMemo: what},
			})
			var already *serviceerror.WorkflowExecutionAlreadyStarted
			var invalid *serviceerror.InvalidArgument
			switch {
			case errors.As(err, &already) || errors.Is(err, temporal.ErrScheduleAlreadyRunning):
				return WithCode(ExitRefused, fmt.Errorf("refused: %s already exists: delete it first (zerodown schedule delete %s)", id, name))
			case errors.As(err, &invalid):
				return usagef("the schedule: %s", invalid.Message)
			case err != nil:
				return WithCode(ExitError, fmt.Errorf("create %s: %w", id, err))
			}
			fmt.Fprintf(a.Stdout, "created %s: %s\n", id, what)
			if sf.paused {
				fmt.Fprintf(a.Stdout, "paused: zerodown schedule unpause %s\n", name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&sf.release, "file", "f", "", "release spec (YAML)")
	f.StringVar(&sf.change, "change", "", "change spec (YAML), instead of a release")
	f.StringVar(&sf.version, "version", "", "ship this version every time")
	f.StringVar(&sf.versionCommand, "version-command", "", "a command whose first line of output is the version")
	f.StringVar(&sf.versionURL, "version-url", "", "a URL whose answer's first line is the version")
	f.DurationVar(&sf.versionTimeout, "version-timeout", time.Minute, "bounds the version command or GET")
	f.StringSliceVar(&sf.passEnv, "pass-env", nil, "worker environment variables the version command gets")
	f.StringArrayVar(&sf.cron, "cron", nil, `cron expression, e.g. "30 9 * * 1-5" (repeatable)`)
	f.DurationVar(&sf.every, "every", 0, "run at this interval instead of --cron")
	f.StringVar(&sf.timezone, "timezone", "", "IANA time zone of --cron (default UTC)")
	f.DurationVar(&sf.catchup, "catchup-window", DefaultCatchupWindow, "how late a missed run may still start")
	f.StringVar(&sf.inFreeze, "in-freeze", workflows.InFreezeWait, "when the environment is frozen: wait or skip")
	f.BoolVar(&sf.paused, "paused", false, "create it paused")
	f.StringVar(&sf.by, "by", "", "who creates it; runs start as schedule/NAME (default: $USER)")
	f.StringVar(&sf.note, "note", "", "a note shown with the schedule")
	return cmd
}

// input builds the run's fixed argument and says what it does, in a few words.
func (sf *scheduleFlags) input(name string) (workflows.ScheduledRunInput, string, error) {
	in := workflows.ScheduledRunInput{Schedule: name, InFreeze: sf.inFreeze}
	if sf.by == "" {
		sf.by = defaultActor()
	}
	if sf.inFreeze != workflows.InFreezeWait && sf.inFreeze != workflows.InFreezeSkip {
		return in, "", usagef("--in-freeze %q: wait or skip", clip(sf.inFreeze))
	}
	sources := 0
	for _, set := range []bool{sf.version != "", sf.versionCommand != "", sf.versionURL != ""} {
		if set {
			sources++
		}
	}
	switch {
	case (sf.release == "") == (sf.change == ""):
		return in, "", usagef("say what to run: -f RELEASE.yaml or --change CHANGE.yaml, one of them")
	case sf.change != "":
		if sources > 0 {
			return in, "", usagef("--version, --version-command and --version-url are for a release: a change's versions are in its file")
		}
		spec, err := loadChange(sf.change)
		if err != nil {
			return in, "", err
		}
		in.Change = &workflows.ChangeInput{Spec: *spec}
		return in, fmt.Sprintf("change %s in %s", spec.Name, spec.Environment), nil
	case sources != 1:
		return in, "", usagef("say the version: --version V, --version-command CMD or --version-url URL, one of them")
	case sf.versionTimeout <= 0 || sf.versionTimeout > time.Hour:
		return in, "", usagef("--version-timeout %s: between 1s and 1h", sf.versionTimeout)
	}
	spec, err := loadSpec(sf.release)
	if err != nil {
		return in, "", err
	}
	in.Release = &workflows.ReleaseInput{Spec: *spec}
	in.Version = workflows.VersionSource{Fixed: sf.version, URL: sf.versionURL, Env: sf.passEnv, Timeout: sf.versionTimeout}
	from := sf.version
	switch {
	case sf.versionCommand != "":
		argv, err := splitCommand(sf.versionCommand)
		if err != nil {
			return in, "", usagef("--version-command: %v", err)
		}
		in.Version.Command = argv
		from = "the output of " + sf.versionCommand
	case sf.versionURL != "":
		if !strings.HasPrefix(sf.versionURL, "http://") && !strings.HasPrefix(sf.versionURL, "https://") {
			return in, "", usagef("--version-url %q: an http:// or https:// URL", clip(sf.versionURL))
		}
		from = "GET " + sf.versionURL
	}
	return in, fmt.Sprintf("release %s to %s, version %s", spec.Service, spec.Environment, from), nil
}

// spec is when the schedule fires.
func (sf *scheduleFlags) spec() (client.ScheduleSpec, error) {
	var s client.ScheduleSpec
	switch {
	case len(sf.cron) == 0 && sf.every == 0:
		return s, usagef("say when: --cron EXPR or --every DURATION")
	case len(sf.cron) > 0 && sf.every != 0:
		return s, usagef("--cron or --every, not both")
	case sf.every != 0 && sf.every < time.Second:
		return s, usagef("--every %s: at least 1s", sf.every)
	case sf.catchup < minCatchupWindow:
		// Temporal takes less (0 included) as its default, a year: never what was meant.
		return s, usagef("--catchup-window %s: at least %s", sf.catchup, minCatchupWindow)
	case sf.timezone != "":
		if _, err := time.LoadLocation(sf.timezone); err != nil || sf.timezone == "Local" {
			return s, usagef("--timezone %q: not an IANA time zone (e.g. Europe/Paris)", clip(sf.timezone))
		}
	}
	s.CronExpressions = sf.cron
	if sf.every != 0 {
		s.Intervals = []client.ScheduleIntervalSpec{{Every: sf.every}}
	}
	s.TimeZoneName = sf.timezone
	return s, nil
}

func (a *App) scheduleListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The zerodown schedules: paused or not, the next run, what each runs",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			defer cancel()
			it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
			if err != nil {
				return WithCode(ExitError, fmt.Errorf("list schedules: %w", err))
			}
			tw := tabwriter.NewWriter(a.Stdout, 2, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tNEXT RUN\tWHAT")
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return WithCode(ExitError, fmt.Errorf("list schedules: %w", err))
				}
				name, ok := strings.CutPrefix(e.ID, "schedule/")
				if !ok {
					continue // not ours
				}
				state := "active"
				if e.Paused {
					state = "paused"
				}
				next := "-"
				if len(e.NextActionTimes) > 0 && !e.Paused {
					next = e.NextActionTimes[0].Local().Format(time.RFC3339)
				}
				var what string
				if p, ok := e.Memo.GetFields()[scheduleMemo]; ok {
					_ = converter.GetDefaultDataConverter().FromPayload(p, &what)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, state, next, what)
			}
			return tw.Flush()
		},
	}
}

// scheduleHandleCommand is one of the commands that act on one schedule by name.
func (a *App) scheduleHandleCommand(verb, short string, act func(context.Context, client.ScheduleHandle, string) error) *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := checkScheduleName(argv[0]); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
			defer cancel()
			id := workflows.ScheduleID(argv[0])
			err = act(ctx, c.ScheduleClient().GetHandle(ctx, id), note)
			var notFound *serviceerror.NotFound
			switch {
			case errors.As(err, &notFound):
				return WithCode(ExitError, fmt.Errorf("no schedule %s (zerodown schedule list)", id))
			case err != nil:
				return WithCode(ExitError, fmt.Errorf("%s %s: %w", verb, id, err))
			}
			fmt.Fprintf(a.Stdout, "%s: %s\n", id, pastTense(verb))
			return nil
		},
	}
	if verb == "pause" || verb == "unpause" {
		cmd.Flags().StringVar(&note, "reason", "", "why, shown with the schedule")
	}
	return cmd
}

func pastTense(verb string) string {
	switch verb {
	case "pause":
		return "paused"
	case "unpause":
		return "unpaused"
	case "trigger":
		return "triggered (skipped if a run is in progress)"
	}
	return verb + "d"
}

// maxCommandLen bounds a version command as typed.
const maxCommandLen = 4 << 10

// splitCommand splits a command line as a shell would split words: spaces separate,
// single quotes keep everything, double quotes keep all but backslash escapes. There is
// no shell: no variables, globs or pipes.
func splitCommand(s string) ([]string, error) {
	if len(s) > maxCommandLen {
		return nil, fmt.Errorf("%d bytes, at most %d", len(s), maxCommandLen)
	}
	var (
		args  []string
		cur   strings.Builder
		inArg bool
		quote rune
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\' && quote != '\'':
			esc, inArg = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inArg = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	switch {
	case quote != 0:
		return nil, fmt.Errorf("unclosed %c quote", quote)
	case esc:
		return nil, errors.New("ends with a backslash")
	}
	if inArg {
		args = append(args, cur.String())
	}
	if len(args) == 0 {
		return nil, errors.New("empty")
	}
	return args, nil
}
