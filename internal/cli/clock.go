package cli

// The clock rules' commands: answer the go/no-go call, start outside the window, extend
// the deadline. Each works on a release (SERVICE/ENV) or a change (change/NAME).

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// clockTarget is the workflow ID of a release (SERVICE/ENV) or a change (change/NAME).
func clockTarget(arg string) (string, error) {
	if name, ok := strings.CutPrefix(strings.TrimSpace(arg), "change/"); ok {
		if name == "" || strings.Contains(name, "/") {
			return "", usagef("%q is not change/NAME", arg)
		}
		return schemas.ChangeID(name), nil
	}
	return releaseID(arg)
}

// clockCommand is one clock message as a command: the target, --by, --reason, and what
// extra the payload needs.
func (a *App) clockCommand(use, short, done string, reasonRequired bool, extra func(*cobra.Command) func(by, reason string) (any, error), name string) *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + `.

TARGET is a release (SERVICE/ENV) or a change (change/NAME). The release or change checks
the request at once and refuses, exit 4, what it cannot accept (no such call, not an
approver, already answered...). See docs/time.md.

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(1)),
	}
	payload := extra(cmd)
	cmd.RunE = func(cmd *cobra.Command, argv []string) error {
		id, err := clockTarget(argv[0])
		if err != nil {
			return err
		}
		if by == "" {
			by = defaultActor()
		}
		if reasonRequired && strings.TrimSpace(reason) == "" {
			return usagef("--reason is required: say why")
		}
		p, err := payload(by, reason)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		c, err := a.dial(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := sendUpdate(ctx, c, id, name, p); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "%s %s (by %s)\n", done, id, by)
		return nil
	}
	cmd.Flags().StringVar(&by, "by", "", "who acts (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the timeline)")
	return cmd
}

func (a *App) clockCommands() []*cobra.Command {
	answer := func(ans string) func(*cobra.Command) func(by, reason string) (any, error) {
		return func(*cobra.Command) func(by, reason string) (any, error) {
			return func(by, reason string) (any, error) {
				return workflows.GoNoGoRequest{By: by, Answer: ans, Reason: reason}, nil
			}
		}
	}
	startNow := func(*cobra.Command) func(by, reason string) (any, error) {
		return func(by, reason string) (any, error) { return workflows.StartNowRequest{By: by, Reason: reason}, nil }
	}
	extend := func(cmd *cobra.Command) func(by, reason string) (any, error) {
		var extra time.Duration
		cmd.Flags().DurationVar(&extra, "for", 0, "how much later decideBy and doneBy move (e.g. 1h)")
		return func(by, reason string) (any, error) {
			if extra <= 0 {
				return nil, usagef("--for is required: how much longer, e.g. --for 1h")
			}
			return workflows.ExtendRequest{By: by, Extra: schemas.Duration(extra), Reason: reason}, nil
		}
	}
	return []*cobra.Command{
		a.clockCommand("go TARGET [--by NAME] [--reason TEXT]", "Answer go to the go/no-go call of a release or change", "go for", false, answer(workflows.AnswerGo), workflows.UpdateGoNoGo),
		a.clockCommand("no-go TARGET --reason TEXT [--by NAME]", "Answer no-go to the go/no-go call: the release or change ends Deferred and touches nothing", "no-go for", true, answer(workflows.AnswerNoGo), workflows.UpdateGoNoGo),
		a.clockCommand("start-now TARGET --reason TEXT [--by NAME]", "Start a release or change waiting for its window now", "starting now", true, startNow, workflows.UpdateStartNow),
		a.clockCommand("extend TARGET --for DURATION --reason TEXT [--by NAME]", "Move the deadline (decideBy and doneBy) of a release or change later", "extended", true, extend, workflows.UpdateExtend),
	}
}
