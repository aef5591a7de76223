package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// revertCommand sends one server of an in-place release back to the previous version.
func (a *App) revertCommand() *cobra.Command {
	var by, reason, then, sign string
	cmd := &cobra.Command{
		Use:   "revert SERVICE/ENV SERVER --reason TEXT [--then continue|stop] [--by NAME] [--sign KEYFILE|agent]",
		Short: "Send one server of an in-place release back to the previous version",
		Long: `Send one server of an in-place release (target.haproxy.servers) back to the previous
version, with the same steps as an upgrade: drain, move its sessions, wait drained,
maintenance, deploy the previous version, wait healthy, back in service.

--then continue (the default): the release goes on with the other servers, and ends
with this one on the previous version. --then stop: the release stops and rolls back
every other server it upgraded, one at a time in reverse order; it ends RolledBack.

The release refuses, with the field at fault, a server that is not in the spec or not
yet upgraded, an empty reason, or a release that is not in place (exit 4).

` + exitCodesHelp,
		Args: args(cobra.ExactArgs(2)),
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
				if sig, err = signUpdate(ctx, c, id, workflows.UpdateRevert, by, sign); err != nil {
					return err
				}
			}
			req := workflows.RevertRequest{By: by, Server: argv[1], Reason: reason, Then: then, Signature: sig}
			if err := sendUpdate(ctx, c, id, workflows.UpdateRevert, req); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "reverting %s of %s (by %s, then %s)\n", argv[1], id, by, orDefault(then, workflows.ThenContinue))
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who acts (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the server goes back (required)")
	cmd.Flags().StringVar(&then, "then", workflows.ThenContinue, "what the release does after: continue with the other servers, or stop (roll them back)")
	cmd.Flags().StringVar(&sign, "sign", "", `sign the request with this SSH key: a private key file, "agent", or KEY.pub of an ssh-agent key`)
	return cmd
}
