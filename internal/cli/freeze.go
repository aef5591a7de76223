package cli

// zerodown freeze: declare, lift, extend, override and list the freezes of an
// environment, each an update (or the query) of its workflow freeze/<env>.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// freezeFlags are the flags every freeze command shares.
type freezeFlags struct {
	env, by, reason string
}

func (ff *freezeFlags) add(cmd *cobra.Command, reasonUse string) {
	cmd.Flags().StringVar(&ff.env, "env", "", "environment (required)")
	cmd.Flags().StringVar(&ff.by, "by", "", "who acts (default: $USER)")
	if reasonUse != "" {
		cmd.Flags().StringVar(&ff.reason, "reason", "", reasonUse+" (required)")
	}
}

// check fills the default actor and refuses a missing environment or reason before
// anything is sent.
func (ff *freezeFlags) check(needReason bool) error {
	if err := freeze.CheckEnvironment(ff.env); err != nil {
		return usagef("--env: %v", err)
	}
	if needReason && strings.TrimSpace(ff.reason) == "" {
		return usagef("--reason is required: it is the audit")
	}
	if ff.by == "" {
		ff.by = defaultActor()
	}
	return nil
}

func (a *App) freezeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Declare, lift, extend, override and list freezes of an environment",
		Long: `A freeze keeps releases and changes from changing an environment's fleet between
two instants. The freezes of an environment live in the workflow freeze/<env>, whose
history says who froze what; every request is checked before it is accepted and
refused with its reason (exit 4). Times are RFC 3339 (2026-12-24T18:00:00+01:00),
"now", or a duration from now (4h, 3d). See docs/time.md.

` + exitCodesHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("zerodown freeze needs a command: %s", strings.Join(subcommandNames(cmd), ", "))
		},
	}
	cmd.AddCommand(a.freezeDeclareCommand(), a.freezeLiftCommand(), a.freezeExtendCommand(), a.freezeOverrideCommand(), a.freezeListCommand())
	return cmd
}

func (a *App) freezeDeclareCommand() *cobra.Command {
	var ff freezeFlags
	var from, until string
	cmd := &cobra.Command{
		Use:   "declare --env ENV [--from TIME] --until TIME --reason TEXT [--by NAME]",
		Short: "Freeze an environment from --from (default now) until --until",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ff.check(true); err != nil {
				return err
			}
			now := time.Now()
			f, err := parseInstant("--from", from, now)
			if err != nil {
				return err
			}
			u, err := parseInstant("--until", until, now)
			if err != nil {
				return err
			}
			req := freeze.DeclareRequest{By: ff.by, From: f, Until: u, Reason: ff.reason}
			return a.sendFreeze(cmd.Context(), ff.env, freeze.UpdateDeclare, req, true)
		},
	}
	ff.add(cmd, "why the environment is frozen")
	cmd.Flags().StringVar(&from, "from", "now", "when the freeze starts")
	cmd.Flags().StringVar(&until, "until", "", "when the freeze ends (required)")
	return cmd
}

func (a *App) freezeLiftCommand() *cobra.Command {
	var ff freezeFlags
	cmd := &cobra.Command{
		Use:   "lift ID --env ENV --reason TEXT [--by NAME]",
		Short: "End a freeze now",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := ff.check(true); err != nil {
				return err
			}
			return a.sendFreeze(cmd.Context(), ff.env, freeze.UpdateLift, freeze.LiftRequest{By: ff.by, ID: argv[0], Reason: ff.reason}, false)
		},
	}
	ff.add(cmd, "why the freeze is lifted")
	return cmd
}

func (a *App) freezeExtendCommand() *cobra.Command {
	var ff freezeFlags
	var until string
	cmd := &cobra.Command{
		Use:   "extend ID --env ENV --until TIME --reason TEXT [--by NAME]",
		Short: "Move the end of a freeze",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			if err := ff.check(true); err != nil {
				return err
			}
			u, err := parseInstant("--until", until, time.Now())
			if err != nil {
				return err
			}
			return a.sendFreeze(cmd.Context(), ff.env, freeze.UpdateExtend, freeze.ExtendRequest{By: ff.by, ID: argv[0], Until: u, Reason: ff.reason}, false)
		},
	}
	ff.add(cmd, "why the freeze moves")
	cmd.Flags().StringVar(&until, "until", "", "the new end (required)")
	return cmd
}

func (a *App) freezeOverrideCommand() *cobra.Command {
	var ff freezeFlags
	var target, id, sign string
	cmd := &cobra.Command{
		Use:   "override --env ENV --target release/SVC/ENV|change/NAME --reason TEXT [--id ID] [--by NAME] [--sign KEYFILE|agent]",
		Short: "Let one release or change pass the freezes (an emergency), with who and why",
		Long: `override records, in the freeze (--id) or in every freeze not yet over, that the
release or change --target may pass it, who approved it and why. The release checks
the approver, and the signature when there is one, against its own approval policy.
--sign signs the override (action "override", release = the target) with an SSH key.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ff.check(true); err != nil {
				return err
			}
			if err := freeze.CheckTarget(target); err != nil {
				return usagef("--%v", err)
			}
			var sig *signing.Signed
			if sign != "" {
				expires, err := expiry(defaultSignedFor)
				if err != nil {
					return err
				}
				if sig, err = signClaim(sign, signing.Claim{Release: target, Action: signing.ActionOverride, Signer: ff.by, Expires: expires}); err != nil {
					return err
				}
			}
			req := freeze.OverrideRequest{By: ff.by, ID: id, Target: target, Reason: ff.reason, Signature: sig}
			return a.sendFreeze(cmd.Context(), ff.env, freeze.UpdateOverride, req, false)
		},
	}
	ff.add(cmd, "why this release or change must pass")
	cmd.Flags().StringVar(&target, "target", "", "the release (release/<service>/<env>) or change (change/<name>) that may pass (required)")
	cmd.Flags().StringVar(&id, "id", "", "the freeze it passes (default: every freeze active or upcoming)")
	cmd.Flags().StringVar(&sign, "sign", "", `sign the override with this SSH key: a private key file, "agent", or KEY.pub of an ssh-agent key`)
	return cmd
}

func (a *App) freezeListCommand() *cobra.Command {
	var ff freezeFlags
	var output string
	cmd := &cobra.Command{
		Use:   "list --env ENV [-o json]",
		Short: "The freezes of an environment in force or to come, and the last things done to them",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ff.check(false); err != nil {
				return err
			}
			if output != "" && output != "json" && output != "text" {
				return usagef("--output %q: text or json", output)
			}
			ctx := cmd.Context()
			c, err := a.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			l, err := queryFreezes(ctx, c, ff.env)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(a.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			fmt.Fprint(a.Stdout, RenderFreezes(l, time.Now()))
			return nil
		},
	}
	ff.add(cmd, "")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

// queryFreezes reads the ledger of env; an environment never frozen has an empty one.
func queryFreezes(ctx context.Context, c client.Client, env string) (freeze.Ledger, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	l := freeze.Ledger{Environment: env}
	v, err := c.QueryWorkflow(ctx, freeze.WorkflowID(env), "", freeze.QueryFreezes)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return l, nil
	}
	if err != nil {
		return l, WithCode(ExitError, fmt.Errorf("freezes of %s: %w", env, err))
	}
	return l, v.Get(&l)
}

// RenderFreezes prints a ledger as `freeze list` does: one line per freeze, its
// overrides under it, then the recent events.
func RenderFreezes(l freeze.Ledger, now time.Time) string {
	var b strings.Builder
	if len(l.Freezes) == 0 {
		fmt.Fprintf(&b, "%s: no freeze in force or to come\n", l.Environment)
	} else {
		tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tFROM\tUNTIL\tBY\tREASON")
		for _, f := range l.Freezes {
			state := "upcoming"
			if f.Covers(now) {
				state = "in force"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.ID, state, f.From.Local().Format(time.RFC3339), f.Until.Local().Format(time.RFC3339), f.By, oneLine(f.Reason))
			for _, o := range f.Overrides {
				signed := ""
				if o.Signature != nil {
					signed = ", signed"
				}
				fmt.Fprintf(tw, "\t  override\t%s\t\t%s%s\t%s may pass: %s\n", o.At.Local().Format(time.RFC3339), o.By, signed, o.Target, oneLine(o.Reason))
			}
		}
		_ = tw.Flush()
	}
	if len(l.Events) > 0 {
		b.WriteString("recent:\n")
		for _, e := range l.Events {
			fmt.Fprintf(&b, "  %s %-10s %s %s%s\n", e.Time.Local().Format(time.RFC3339), e.Kind, e.ID, oneLine(e.Message), orBy(e.By))
		}
	}
	return b.String()
}

func orBy(by string) string {
	if by == "" {
		return ""
	}
	return " (by " + by + ")"
}

// sendFreeze sends one update to the freeze workflow of env; start (declare) starts the
// workflow if it does not run yet, in the same request.
func (a *App) sendFreeze(ctx context.Context, env, name string, payload any, start bool) error {
	c, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	id := freeze.WorkflowID(env)
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	upd := client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{payload}, WaitForStage: client.WorkflowUpdateStageCompleted}
	var h client.WorkflowUpdateHandle
	if start {
		op := c.NewWithStartWorkflowOperation(FreezeStartOptions(env), workflows.FreezeWorkflowName, workflows.FreezeInput{Environment: env})
		h, err = c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: op, UpdateOptions: upd})
	} else {
		h, err = c.UpdateWorkflow(ctx, upd)
	}
	var msg string
	if err == nil {
		err = h.Get(ctx, &msg)
	}
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return WithCode(ExitRefused, fmt.Errorf("refused: id: %s has no freeze (zerodown freeze list --env %s)", env, env))
		}
		return updateError(ctx, c, id, name, err)
	}
	fmt.Fprintln(a.Stdout, msg)
	return nil
}

// FreezeStartOptions are the workflow options of the freezes of env: one workflow per
// environment, started by the first declaration and joined by the next.
func FreezeStartOptions(env string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       freeze.WorkflowID(env),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "freezes of " + env,
	}
}

// parseInstant reads a time flag: RFC 3339, "now", or a duration from now (4h, 90m, 3d).
func parseInstant(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return time.Time{}, usagef("%s is required", flag)
	case v == "now":
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	days := strings.TrimSuffix(v, "d")
	if days != v {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(d), nil
	}
	return time.Time{}, usagef("%s %q: give RFC 3339 (2026-12-24T18:00:00+01:00), now, or a duration from now (4h, 3d)", flag, clip(v))
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
