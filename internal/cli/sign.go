package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// Signed approvals from the command line: --sign on start and the updates, and `zerodown
// sign`, which prints the input of the plain `temporal workflow update execute`.

const (
	// defaultSignedFor is how long a signature made by --sign holds: it is sent at once.
	defaultSignedFor = 10 * time.Minute
	// defaultSignFor is how long `zerodown sign`'s holds: someone copies it somewhere.
	defaultSignFor = time.Hour
)

// signClaim signs c with what keySpec names (a key file, KEY.pub of an ssh-agent key,
// or "agent").
func signClaim(keySpec string, c signing.Claim) (*signing.Signed, error) {
	signer, closeSigner, err := signing.OpenSigner(keySpec)
	if err != nil {
		return nil, WithCode(ExitError, fmt.Errorf("--sign %s: %w", keySpec, err))
	}
	defer closeSigner()
	s, err := signing.SignClaim(signer, c)
	if err != nil {
		return nil, WithCode(ExitError, fmt.Errorf("--sign %s: %w", keySpec, err))
	}
	return &s, nil
}

// expiry is when a signature made now for validFor expires, to the second.
func expiry(validFor time.Duration) (time.Time, error) {
	if validFor <= 0 || validFor > signing.MaxValidity {
		return time.Time{}, usagef("--expires %s: give a duration between 1s and %s", validFor, signing.MaxValidity)
	}
	return time.Now().Add(validFor).UTC().Truncate(time.Second), nil
}

// releaseTarget is what a signature for an update to the release id must name: its
// first run (continue-as-new keeps it) and the gate open now, if any.
func releaseTarget(ctx context.Context, c client.Client, id string) (firstRun, gate string, err error) {
	dctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	d, err := c.DescribeWorkflowExecution(dctx, id, "")
	if err != nil {
		return "", "", updateError(ctx, c, id, "describe", err)
	}
	firstRun = d.GetWorkflowExecutionInfo().GetFirstRunId()
	st, err := queryStatus(ctx, c, id)
	if err != nil {
		return "", "", WithCode(ExitError, fmt.Errorf("status of %s: %w", id, err))
	}
	if st.PendingApproval != nil {
		gate = st.PendingApproval.Gate
	}
	return firstRun, gate, nil
}

var signActions = []string{signing.ActionApprove, signing.ActionPromote, signing.ActionAbort, signing.ActionPause, signing.ActionResume}

func (a *App) signCommand() *cobra.Command {
	var release, run, gate, action, by, key, comment, reason string
	var validFor time.Duration
	cmd := &cobra.Command{
		Use:   "sign --release SERVICE/ENV --run FIRST_RUN_ID [--gate GATE] [--action approve] --by NAME --key KEYFILE",
		Short: "Print a signed update input for the plain temporal CLI",
		Long: `sign signs a claim (this release, its first run, this gate, this action, by NAME, until
--expires) with an SSH key, as ssh-keygen -Y sign -n zerodown does, and prints the JSON
input of the update, for:

  temporal workflow update execute --workflow-id release/SERVICE/ENV --name ACTION --input "$(zerodown sign ...)"

It does not connect to Temporal. The first run ID is the run ID "zerodown start" printed
(or "temporal workflow describe"'s first run); the gate is the pending approval's gate
(zerodown status), empty when none is open. --key is a private key file without
passphrase, "agent" for the ssh-agent's first key, or KEY.pub for that agent key.
See docs/approvals.md.

` + exitCodesHelp,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := releaseID(release)
			if err != nil {
				return err
			}
			if !slices.Contains(signActions, action) {
				return usagef("--action %q: one of %s", action, strings.Join(signActions, ", "))
			}
			if run == "" || key == "" {
				return usagef("--run and --key are required")
			}
			if by == "" {
				by = defaultActor()
			}
			expires, err := expiry(validFor)
			if err != nil {
				return err
			}
			sig, err := signClaim(key, signing.Claim{Release: id, RunID: run, Gate: gate, Action: action, Signer: by, Expires: expires})
			if err != nil {
				return err
			}
			var payload any
			switch action {
			case signing.ActionApprove:
				payload = workflows.ApproveRequest{By: by, Comment: comment, Signature: sig}
			case signing.ActionAbort:
				payload = workflows.AbortRequest{By: by, Reason: reason, Signature: sig}
			default:
				payload = workflows.ActorRequest{By: by, Signature: sig}
			}
			out, err := json.Marshal(payload)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.Stdout, string(out))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&release, "release", "", "the release, SERVICE/ENV or its workflow ID (required)")
	f.StringVar(&run, "run", "", "the release's first run ID (required)")
	f.StringVar(&gate, "gate", "", "the open gate (afterSoak, beforeLastBatch, inconclusive, review); empty when none is open")
	f.StringVar(&action, "action", signing.ActionApprove, "the update: "+strings.Join(signActions, ", "))
	f.StringVar(&by, "by", "", "who signs, as the spec's signers name them (default: $USER)")
	f.StringVar(&key, "key", "", `SSH private key file, "agent", or KEY.pub of an ssh-agent key (required)`)
	f.DurationVar(&validFor, "expires", defaultSignFor, "how long the signature holds (at most 24h)")
	f.StringVar(&comment, "comment", "", "approve: why it is fine to promote")
	f.StringVar(&reason, "reason", "", "abort: why the release is aborted")
	return cmd
}
