package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// Typed search attribute keys: the release's identity for the Temporal UI and `list`.
var (
	saService     = temporal.NewSearchAttributeKeyKeyword(workflows.SAService)
	saEnvironment = temporal.NewSearchAttributeKeyKeyword(workflows.SAEnvironment)
	saVersion     = temporal.NewSearchAttributeKeyKeyword(workflows.SAVersion)
	saPhase       = temporal.NewSearchAttributeKeyKeyword(workflows.SAPhase)
)

// StartOptions are the workflow options of a release of spec at version: one release per
// service and environment at a time, a new one allowed once the last has ended.
func StartOptions(spec *schemas.Spec, version string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       spec.ID(),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without it the SDK would hand back the running release as if we had started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			saService.ValueSet(spec.Service),
			saEnvironment.ValueSet(spec.Environment),
			saVersion.ValueSet(version),
			saPhase.ValueSet(string(workflows.PhasePlanning)),
		),
		StaticSummary: fmt.Sprintf("release %s %s to %s", spec.Service, version, spec.Environment),
	}
}

func (a *App) startCommand() *cobra.Command {
	var file, version, changelog, by, sign string
	var wait, noWait bool
	cmd := &cobra.Command{
		Use:   "start -f FILE --version V [--changelog FILE] [--by NAME] [--sign KEYFILE|agent] [--wait]",
		Short: "Start a release; with --wait, follow it and exit with its outcome",
		Long: `start validates the spec and starts the release workflow release/<service>/<environment>.
A second start while a release of the same service and environment runs is refused
(exit 4). With --wait it prints each timeline event as it happens and exits with the
release's outcome. --sign signs the start with an SSH key, so that four-eyes compares
keys, not names (see docs/approvals.md).

` + exitCodesHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := loadSpec(file)
			if err != nil {
				return err
			}
			if version == "" {
				return usagef("--version is required")
			}
			notes, err := readFile(changelog)
			if err != nil {
				return err
			}
			if by == "" {
				by = defaultActor()
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			in := workflows.ReleaseInput{Spec: *spec, Version: version, Changelog: notes, StartedBy: by, NoWait: noWait}
			if sign != "" {
				expires, err := expiry(defaultSignedFor)
				if err != nil {
					return err
				}
				// The run does not exist yet: a start claim names no run and no gate.
				claim := signing.Claim{Release: spec.ID(), Action: signing.ActionStart, Signer: by, Expires: expires}
				if in.Signature, err = signClaim(sign, claim); err != nil {
					return err
				}
			}
			run, err := c.ExecuteWorkflow(ctx, StartOptions(spec, version), workflows.ReleaseWorkflowName, in)
			if err != nil {
				return startError(spec, err)
			}
			fmt.Fprintf(a.Stdout, "started %s (run id %s): %s %s to %s, by %s\n",
				run.GetID(), run.GetRunID(), spec.Service, version, spec.Environment, by)
			if !wait {
				fmt.Fprintf(a.Stdout, "follow it with: zerodown status %s/%s --watch\n", spec.Service, spec.Environment)
				return nil
			}
			return a.follow(ctx, c, run)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "release spec (YAML)")
	f.StringVar(&version, "version", "", "version to release (required)")
	f.StringVar(&changelog, "changelog", "", "file whose text is attached to the release")
	f.StringVar(&by, "by", "", "who starts the release (default: $USER)")
	f.StringVar(&sign, "sign", "", `sign the start with this SSH key: a private key file, "agent", or KEY.pub of an ssh-agent key`)
	f.BoolVar(&wait, "wait", false, "follow the release and exit with its outcome code")
	f.BoolVar(&noWait, "no-wait", false, "if the environment is frozen, end Deferred (exit 8) instead of waiting for the freeze to lift")
	return cmd
}

// startError explains why a release could not start.
func startError(spec *schemas.Spec, err error) error {
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return WithCode(ExitRefused, fmt.Errorf("refused: %s is already running (run id %s): approve, abort or wait for it",
			spec.ID(), already.RunId))
	}
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.Message), "search attribute") {
		return WithCode(ExitError, fmt.Errorf("%s; register zerodown's search attributes on the namespace: %s",
			invalid.Message, registerSearchAttributes()))
	}
	return WithCode(ExitError, fmt.Errorf("start %s: %w", spec.ID(), err))
}

// follow prints the release's timeline as it grows and returns its outcome. The status
// is polled rather than pushed because a query is cheap and works through worker
// restarts; the result itself comes from the run, which follows continue-as-new.
func (a *App) follow(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	type result struct {
		st  workflows.Status
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		var st workflows.Status
		err := run.Get(ctx, &st)
		done <- result{st, err}
	}()

	p := newEventPrinter(a.Stdout)
	tick := time.NewTicker(a.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return WithCode(ExitError, fmt.Errorf("stopped waiting; the release goes on: zerodown status %s", shortID(run.GetID())))
		case r := <-done:
			st := r.st
			if r.err != nil {
				var ok bool
				if st, ok = statusFromError(r.err); !ok {
					// Terminated, timed out or failed unexpectedly: its last status, if a
					// worker can still answer, tells what happened to the fleet.
					qst, qerr := queryStatus(context.WithoutCancel(ctx), c, run.GetID())
					if qerr != nil || !qst.Phase.Terminal() {
						p.print(qst)
						fmt.Fprintf(a.Stdout, "failed: %s ended without an outcome: %s\n", run.GetID(), oneLine(r.err.Error()))
						return &CodeError{Code: ExitFailed, Err: r.err, Silent: true}
					}
					st = qst
				}
			}
			p.print(st)
			fmt.Fprintln(a.Stdout, Outcome(st))
			if code := OutcomeCode(st); code != ExitSucceeded {
				return &CodeError{Code: code, Err: errors.New(Outcome(st)), Silent: true}
			}
			return nil
		case <-tick.C:
			st, err := queryStatus(ctx, c, run.GetID())
			if err == nil {
				p.print(st)
			}
		}
	}
}

// statusFromError reads a release's final status from the error it ended with: a release
// that rolled back or failed fails its workflow with an ApplicationError (type RolledBack,
// Aborted or Failed) whose details carry the Status.
func statusFromError(err error) (workflows.Status, bool) {
	var st workflows.Status
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.HasDetails() {
		return st, false
	}
	if app.Details(&st) != nil || !st.Phase.Terminal() {
		return st, false
	}
	return st, true
}

// queryStatus asks the release for its status, bounded so that a release with no live
// worker does not hang the caller.
func queryStatus(ctx context.Context, c client.Client, id string) (workflows.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	var st workflows.Status
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// Outcome is the one line that ends a release.
func Outcome(st workflows.Status) string {
	what := fmt.Sprintf("%s %s to %s", st.Service, st.Version, st.Environment)
	switch OutcomeCode(st) {
	case ExitSucceeded:
		return fmt.Sprintf("succeeded: %s, %d instance(s) serving", what, st.Desired)
	case ExitAborted:
		return fmt.Sprintf("aborted: %s was aborted and rolled back%s", what, because(st.Error))
	case ExitRolledBack:
		return fmt.Sprintf("rolled back: %s%s", what, because(st.Error))
	case ExitFailed:
		return fmt.Sprintf("failed: %s could not be rolled back%s; the fleet needs a look", what, because(st.Error))
	default:
		return fmt.Sprintf("%s: %s", st.Phase, what)
	}
}

func because(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + oneLine(msg)
}

// eventPrinter prints what happens to a release as lines, each once: the start of each
// phase, timeline events and check verdicts.
// Lines are keyed by content rather than position, so a timeline or check list trimmed
// by the workflow never reprints or skips lines.
type eventPrinter struct {
	w    io.Writer
	seen map[string]bool
}

func newEventPrinter(w io.Writer) *eventPrinter {
	return &eventPrinter{w: w, seen: map[string]bool{}}
}

func (p *eventPrinter) print(st workflows.Status) {
	var lines []workflows.Event
	for _, ph := range st.Phases {
		if !ph.Phase.Terminal() { // the final event says it better
			lines = append(lines, workflows.Event{Time: ph.Started, Phase: ph.Phase, Kind: "phase", Message: "phase " + string(ph.Phase) + " began"})
		}
	}
	lines = append(lines, st.Timeline...)
	for _, ch := range st.Checks {
		if ch.Verdict == workflows.VerdictFail {
			continue // the timeline has every failed check, with its count
		}
		lines = append(lines, workflows.Event{Time: ch.Time, Phase: workflows.PhaseSoaking, Kind: "check",
			Message: "check " + verdictWord(ch.Verdict) + ": " + ch.Summary})
	}
	// Within one workflow task every line has the same time: order those by phase, a
	// phase's start before its events.
	rank := map[workflows.Phase]int{}
	for i, ph := range st.Phases {
		rank[ph.Phase] = i
	}
	slices.SortStableFunc(lines, func(a, b workflows.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := rank[a.Phase] - rank[b.Phase]; c != 0 {
			return c
		}
		return boolInt(b.Kind == "phase") - boolInt(a.Kind == "phase")
	})
	for _, ev := range lines {
		key := fmt.Sprintf("%d|%s|%s|%s", ev.Time.UnixNano(), ev.Kind, ev.Phase, ev.Message)
		if ev.Kind == "phase" {
			key = "phase|" + string(ev.Phase) + "|" + fmt.Sprint(ev.Time.UnixNano())
		}
		if p.seen[key] {
			continue
		}
		p.seen[key] = true
		fmt.Fprintln(p.w, FormatEvent(ev))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func verdictWord(v string) string {
	switch v {
	case workflows.VerdictPass:
		return "passed"
	case workflows.VerdictFail:
		return "failed"
	default:
		return strings.ToLower(v)
	}
}

// FormatEvent is one timeline line: "12:01:05 Soaking          check passed ...".
func FormatEvent(ev workflows.Event) string {
	msg := ev.Message
	if ev.By != "" && !strings.Contains(msg, ev.By) {
		msg += " (by " + ev.By + ")"
	}
	return fmt.Sprintf("%s %-16s %s", ev.Time.Local().Format("15:04:05"), ev.Phase, msg)
}

// shortID turns release/board/prod into board/prod, as the commands take it.
func shortID(id string) string { return strings.TrimPrefix(id, "release/") }

// registerSearchAttributes is the command that registers every zerodown search attribute.
func registerSearchAttributes() string {
	cmd := "temporal operator search-attribute create"
	for _, sa := range workflows.SearchAttributes {
		cmd += " --name " + sa + " --type Keyword"
	}
	return cmd
}
