package cli

// Running and steering a change: start [--wait], status [--watch], confirm, reject and
// abort, with the release commands' conventions (exit codes, -o json).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// ChangeStartOptions are the workflow options of a change: its ID is the lock that keeps
// two runs of one change apart, as a release's is.
func ChangeStartOptions(c *schemas.ChangeSpec) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       schemas.ChangeID(c.Name),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without it the SDK would hand back the running change as if we had started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("change %s (%d steps) in %s", c.Name, len(c.Steps), c.Environment),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(workflows.SAChange).ValueSet(c.Name),
			temporal.NewSearchAttributeKeyKeyword(workflows.SAEnvironment).ValueSet(c.Environment),
		),
	}
}

func (a *App) changeStartCommand() *cobra.Command {
	var by string
	var wait, noWait bool
	cmd := &cobra.Command{
		Use:   "start FILE [--by NAME] [--wait]",
		Short: "Start a change; with --wait, follow it and exit with its outcome",
		Long: `start validates the change (and the release specs it names) and starts the workflow
change/<name>. A second start while the change runs is refused (exit 4); a release
step whose service already has a release running fails that step, and the change
rolls back. With --wait it prints the steps as they move and exits with the change's
outcome: 0 succeeded, 5 rolled back, 6 aborted, 7 failed (something is left to do by
hand).

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			spec, err := loadChange(argv[0])
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
			run, err := c.ExecuteWorkflow(ctx, ChangeStartOptions(spec), workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: *spec, StartedBy: by, NoWait: noWait})
			if err != nil {
				var already *serviceerror.WorkflowExecutionAlreadyStarted
				if errors.As(err, &already) {
					return WithCode(ExitRefused, fmt.Errorf("refused: %s is already running (run id %s)", schemas.ChangeID(spec.Name), already.RunId))
				}
				return WithCode(ExitError, fmt.Errorf("start %s: %w", schemas.ChangeID(spec.Name), err))
			}
			fmt.Fprintf(a.Stdout, "started %s (run id %s): %d step(s) in %s, by %s\n", run.GetID(), run.GetRunID(), len(spec.Steps), spec.Environment, by)
			if !wait {
				fmt.Fprintf(a.Stdout, "follow it with: zerodown change status %s --watch\n", spec.Name)
				return nil
			}
			return a.followChange(ctx, c, run)
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who starts the change (default: $USER)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the change and exit with its outcome code")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "if the environment is frozen, end Deferred (exit 8) instead of waiting for the freeze to lift")
	return cmd
}

// followChange prints the change's steps whenever they move, and returns its outcome.
func (a *App) followChange(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	done := make(chan error, 1)
	var final workflows.ChangeStatus
	go func() { done <- run.Get(ctx, &final) }()
	tick := time.NewTicker(a.PollInterval)
	defer tick.Stop()
	last := ""
	show := func(st workflows.ChangeStatus) {
		if line := changeLine(st); line != last {
			fmt.Fprintln(a.Stdout, line)
			last = line
		}
	}
	for {
		select {
		case <-ctx.Done():
			return WithCode(ExitError, fmt.Errorf("stopped waiting; the change goes on: zerodown change status %s", strings.TrimPrefix(run.GetID(), "change/")))
		case err := <-done:
			st := final
			if err != nil {
				var app *temporal.ApplicationError
				if !errors.As(err, &app) || !app.HasDetails() || app.Details(&st) != nil {
					return &CodeError{Code: ExitFailed, Err: fmt.Errorf("%s ended without an outcome: %s", run.GetID(), oneLine(err.Error()))}
				}
			}
			fmt.Fprint(a.Stdout, RenderChange(st))
			return changeOutcome(st)
		case <-tick.C:
			if st, err := queryChange(ctx, c, run.GetID()); err == nil {
				show(st)
			}
		}
	}
}

// changeOutcome maps a finished change to its exit code, as a release's outcome maps.
func changeOutcome(st workflows.ChangeStatus) error {
	code := ExitError
	switch st.Phase {
	case workflows.PhaseSucceeded:
		return nil
	case workflows.PhaseRolledBack:
		code = ExitRolledBack
		if st.AbortedBy != "" {
			code = ExitAborted
		}
	case workflows.PhaseFailed:
		code = ExitFailed
	case workflows.PhaseDeferred:
		code = ExitDeferred
	}
	return &CodeError{Code: code, Err: fmt.Errorf("%s %s", st.ChangeID, st.Phase), Silent: true}
}

func queryChange(ctx context.Context, c client.Client, id string) (workflows.ChangeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	var st workflows.ChangeStatus
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}

// changeLine is one line that moves when any step does: "backup done, api running, …".
func changeLine(st workflows.ChangeStatus) string {
	parts := make([]string, len(st.Steps))
	for i, s := range st.Steps {
		parts[i] = s.ID + " " + string(s.State)
	}
	return fmt.Sprintf("%s %s: %s", st.ChangeID, st.Phase, strings.Join(parts, ", "))
}

// RenderChange is the change as `zerodown change status` prints it: a table of steps.
func RenderChange(st workflows.ChangeStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  (%s, started by %s)\n", st.ChangeID, st.Phase, st.Environment, orDefault(st.StartedBy, "?"))
	if st.Reason != "" {
		fmt.Fprintf(&b, "why: %s\n", st.Reason)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tSTATE\tTOOK\tDETAIL")
	for _, s := range st.Steps {
		took := ""
		if !s.Started.IsZero() && !s.Ended.IsZero() {
			took = s.Ended.Sub(s.Started).Round(time.Second).String()
		}
		detail := s.Message
		if s.Contract != "" {
			detail += " (contract " + s.Contract + ")"
		}
		if s.State == workflows.StepRunning && s.Kind == schemas.StepConfirm {
			detail = fmt.Sprintf("waiting for %d confirmation(s), %d so far: zerodown change confirm %s %s",
				s.Required, len(s.Confirmations), strings.TrimPrefix(st.ChangeID, "change/"), s.ID)
		}
		if !s.EscalatedAt.IsZero() && s.State == workflows.StepRunning {
			detail += " (escalated " + s.EscalatedAt.Local().Format("15:04:05") + ")"
		} else if !s.RemindedAt.IsZero() && (s.State == workflows.StepWaiting || s.State == workflows.StepRunning) {
			detail += " (reminded " + s.RemindedAt.Local().Format("15:04:05") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Kind, s.State, took, oneLine(detail))
	}
	_ = tw.Flush()
	if st.PageError != "" {
		fmt.Fprintf(&b, "paging failed: %s\n", oneLine(st.PageError))
	}
	for _, todo := range st.LeftToDo {
		fmt.Fprintf(&b, "left to do by hand: %s\n", todo)
	}
	return b.String()
}

func (a *App) changeStatusCommand() *cobra.Command {
	var output string
	var watch bool
	cmd := &cobra.Command{
		Use:   "status NAME [--watch] [-o json]",
		Short: "Show a change: every step, its state, and what it waits for",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if output != "" && output != "json" && output != "text" {
				return usagef("-o %q: text or json", output)
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			id := schemas.ChangeID(strings.TrimPrefix(argv[0], "change/"))
			for {
				st, err := queryChange(ctx, c, id)
				if err != nil {
					return WithCode(ExitError, fmt.Errorf("no change %s: %w", id, err))
				}
				if err := writeChange(a.Stdout, st, output); err != nil {
					return err
				}
				if !watch || st.Phase.Terminal() {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(a.PollInterval):
				}
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().BoolVar(&watch, "watch", false, "print it again until the change ends")
	return cmd
}

func writeChange(w io.Writer, st workflows.ChangeStatus, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	_, err := fmt.Fprint(w, RenderChange(st)+RenderClock(st.Clock, time.Now()))
	return err
}

func (a *App) changeConfirmCommand() *cobra.Command {
	var by, comment string
	var items []string
	cmd := &cobra.Command{
		Use:   "confirm NAME STEP [--item ITEM]... [--all] [--comment TEXT] [--by NAME]",
		Short: "Confirm a confirm step of a change, answering every item of its checklist",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			answers := map[string]bool{}
			for _, it := range items {
				answers[it] = true
			}
			return a.sendChange(cmd.Context(), argv[0], workflows.UpdateConfirm, func(st workflows.ChangeStatus) any {
				if all, _ := cmd.Flags().GetBool("all"); all {
					if s, ok := st.Step(argv[1]); ok {
						for _, it := range s.Checklist {
							answers[it] = true
						}
					}
				}
				return workflows.ConfirmRequest{Step: argv[1], By: orDefault(by, defaultActor()), Checklist: answers, Comment: comment}
			})
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who confirms (default: $USER)")
	cmd.Flags().StringVar(&comment, "comment", "", "what was checked")
	cmd.Flags().StringArrayVar(&items, "item", nil, "a checklist item that is fine (repeat for each)")
	cmd.Flags().Bool("all", false, "every item of the step's checklist is fine")
	return cmd
}

func (a *App) changeRejectCommand() *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:   "reject NAME STEP --reason TEXT [--by NAME]",
		Short: "Reject a confirm step: the change rolls back",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("--reason is required: say what is wrong")
			}
			return a.sendChange(cmd.Context(), argv[0], workflows.UpdateReject, func(workflows.ChangeStatus) any {
				return workflows.RejectRequest{Step: argv[1], By: orDefault(by, defaultActor()), Reason: reason}
			})
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who rejects (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "what is wrong (required)")
	return cmd
}

func (a *App) changeAbortCommand() *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:   "abort NAME [--reason TEXT] [--by NAME]",
		Short: "Abort a change: everything it did is undone, in reverse order",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			return a.sendChange(cmd.Context(), argv[0], workflows.UpdateAbort, func(workflows.ChangeStatus) any {
				return workflows.AbortRequest{By: orDefault(by, defaultActor()), Reason: reason}
			})
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who aborts (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

// sendChange sends an update to a change, built from its current status.
func (a *App) sendChange(ctx context.Context, name, update string, payload func(workflows.ChangeStatus) any) error {
	c, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	id := schemas.ChangeID(strings.TrimPrefix(name, "change/"))
	st, err := queryChange(ctx, c, id)
	if err != nil {
		return WithCode(ExitError, fmt.Errorf("no change %s: %w", id, err))
	}
	if err := sendUpdate(ctx, c, id, update, payload(st)); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "%s: %s sent\n", id, update)
	return nil
}
