package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// updateTimeout bounds waiting for a worker to take an update: without a live worker
// Temporal would hold it until one comes.
const updateTimeout = 30 * time.Second

// updateSpec describes one of the release's updates as a command.
type updateSpec struct {
	name    string // the workflow update name
	short   string
	done    string // what is printed once accepted
	text    string // the free-text flag (comment, reason), if any
	textUse string
	payload func(by, text string, sig *signing.Signed) any // sig is nil when not signed
}

var (
	updateApprove = updateSpec{
		name: workflows.UpdateApprove, short: "Approve a release waiting for approval", done: "approved",
		text: "comment", textUse: "why it is fine to promote",
		payload: func(by, text string, sig *signing.Signed) any {
			return workflows.ApproveRequest{By: by, Comment: text, Signature: sig}
		},
	}
	updateAbort = updateSpec{
		name: workflows.UpdateAbort, short: "Abort a release: it rolls back to the old version", done: "aborted (rolling back)",
		text: "reason", textUse: "why the release is aborted",
		payload: func(by, text string, sig *signing.Signed) any {
			return workflows.AbortRequest{By: by, Reason: text, Signature: sig}
		},
	}
	updatePause = updateSpec{
		name: workflows.UpdatePause, short: "Pause a release: the soak clock and promotion stop", done: "paused",
		payload: func(by, _ string, sig *signing.Signed) any { return workflows.ActorRequest{By: by, Signature: sig} },
	}
	updateResume = updateSpec{
		name: workflows.UpdateResume, short: "Resume a paused release", done: "resumed",
		payload: func(by, _ string, sig *signing.Signed) any { return workflows.ActorRequest{By: by, Signature: sig} },
	}
	updatePromote = updateSpec{
		name: workflows.UpdatePromote, short: "Promote now: skip the rest of the soak", done: "promoting (soak skipped)",
		payload: func(by, _ string, sig *signing.Signed) any { return workflows.ActorRequest{By: by, Signature: sig} },
	}
)

func (a *App) updateCommand(u updateSpec) *cobra.Command {
	var by, text, sign string
	use := u.name + " SERVICE/ENV [--by NAME] [--sign KEYFILE|agent]"
	if u.text != "" {
		use += fmt.Sprintf(" [--%s TEXT]", u.text)
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: u.short,
		Long: u.short + `.

The release checks the request at once: a request it cannot accept (nothing to approve,
an approver not on the list, already paused...) is refused with its reason, exit 4.

--sign signs the request with an SSH key (a private key file without passphrase,
"agent" for the ssh-agent's first key, or KEY.pub for that key in the agent), for this
release, its first run, the gate open now and this action, by --by, valid 10 minutes;
a spec with canary.approval.requireSignature needs it. See docs/approvals.md.

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, argv []string) error {
			id, err := releaseID(argv[0])
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
			var sig *signing.Signed
			if sign != "" {
				if sig, err = signUpdate(ctx, c, id, u.name, by, sign); err != nil {
					return err
				}
			}
			if err := sendUpdate(ctx, c, id, u.name, u.payload(by, text, sig)); err != nil {
				return err
			}
			line := fmt.Sprintf("%s %s (by %s)", u.done, id, by)
			if sig != nil {
				line = fmt.Sprintf("%s %s (by %s, signed)", u.done, id, by)
			}
			if st, err := queryStatus(ctx, c, id); err == nil {
				line += "; phase " + string(st.Phase)
			}
			fmt.Fprintln(a.Stdout, line)
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who acts (default: $USER)")
	cmd.Flags().StringVar(&sign, "sign", "", `sign the request with this SSH key: a private key file, "agent", or KEY.pub of an ssh-agent key`)
	if u.text != "" {
		cmd.Flags().StringVar(&text, u.text, "", u.textUse)
	}
	return cmd
}

// signUpdate signs the update name to the release id, as it stands now, by by.
func signUpdate(ctx context.Context, c client.Client, id, name, by, keySpec string) (*signing.Signed, error) {
	run, gate, err := releaseTarget(ctx, c, id)
	if err != nil {
		return nil, err
	}
	expires, err := expiry(defaultSignedFor)
	if err != nil {
		return nil, err
	}
	return signClaim(keySpec, signing.Claim{Release: id, RunID: run, Gate: gate, Action: name, Signer: by, Expires: expires})
}

// sendUpdate sends an update and waits for the release to accept and complete it.
func sendUpdate(ctx context.Context, c client.Client, id, name string, payload any) error {
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{payload},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err == nil {
		return nil
	}
	return updateError(ctx, c, id, name, err)
}

// updateError tells a refusal by the release (exit 4) from a release that does not exist
// or cannot be reached (exit 1).
func updateError(ctx context.Context, c client.Client, id, name string, err error) error {
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &app):
		return WithCode(ExitRefused, fmt.Errorf("refused: %s", app.Message()))
	case errors.As(err, &notFound):
		if ended := endedStatus(context.WithoutCancel(ctx), c, id); ended != "" {
			return WithCode(ExitRefused, fmt.Errorf("refused: %s has already ended (%s)", id, ended))
		}
		return WithCode(ExitError, fmt.Errorf("no release %s: start one with zerodown start", id))
	case errors.Is(err, context.DeadlineExceeded) || isDeadline(err):
		return WithCode(ExitError, fmt.Errorf("%s %s: no worker took the update within %s (is zerodown-worker running?)", name, id, updateTimeout))
	}
	return WithCode(ExitError, fmt.Errorf("%s %s: %w", name, id, err))
}

func isDeadline(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var ce *serviceerror.Canceled
	return errors.As(err, &de) || errors.As(err, &ce)
}

// endedStatus is the closed status of the latest run of id ("Completed", ...), or "" if
// it runs or does not exist.
func endedStatus(ctx context.Context, c client.Client, id string) string {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return ""
	}
	s := d.GetWorkflowExecutionInfo().GetStatus()
	if s == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || s == enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
		return ""
	}
	return s.String()
}
