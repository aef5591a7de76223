package cli

import (
	"fmt"
	"log/slog"
	"maps"
	"os"

	"github.com/slack-go/slack"
	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/internal/slackbridge"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/signing"
)

// Environment variables of the Slack bridge. Secrets come from the environment, never
// from flags, which other users of the machine can read in the process list.
const (
	SlackSigningSecretEnv = "SLACK_SIGNING_SECRET"
	SlackBotTokenEnv      = workerapp.SlackBotTokenEnv
)

func (a *App) slackBridgeCommand() *cobra.Command {
	srv := slackbridge.Server{}
	var (
		users      map[string]string
		usersFile  string
		logLevel   string
		signingKey string
	)
	cmd := &cobra.Command{
		Use:   "slack-bridge [--listen ADDR] [--users U0123ABCD=alice,...] [--users-file FILE] [--signing-key KEYFILE]",
		Short: "Serve the buttons of Slack release and change threads (approve, abort, promote, confirm, reject)",
		Long: `slack-bridge is the Interactivity Request URL of the zerodown Slack app. Each click
on a release's Approve, Abort or Promote button is verified (signature made with the
app's signing secret, timestamp within 5 minutes, never seen before: anything else is
refused with 401), its Slack user is mapped to a zerodown identity (--users,
--users-file), and it is sent to the release as the approve, abort or promote update.
The release decides; its answer, or its refusal, is shown to the clicker alone.

A change's thread has Confirm and Reject buttons on the reply that asks for a confirm
step: Confirm answers every item of the step's checklist as fine, for the clicker;
Reject opens a form (a Slack modal, which needs the bot token) asking why, and rejects
the step with that reason, which rolls the change back. The change decides who may.

Environment:
  ` + SlackSigningSecretEnv + `  the app's signing secret (required)
  ` + SlackBotTokenEnv + `       the bot token; optional: to open the form of a change's Reject button,
                        and to answer with chat.postEphemeral when a click comes without
                        a response URL

Users file (YAML or JSON): Slack member IDs to the names release specs list as approvers.

  users:
    U0123ABCD: alice
    U0456EFGH: bob

--signing-key signs each request, with the bridge's own SSH key, for the person it
mapped, so that releases with canary.approval.requireSignature take approvals from
Slack: list the key's public half in the spec's canary.approval.signers with
bridge: true (see docs/approvals.md). A private key file without passphrase, "agent",
or KEY.pub of an ssh-agent key.

Slack only calls https URLs: run the bridge behind a TLS-terminating proxy and give
Slack https://<host>` + slackbridge.DefaultPath + ` as the Interactivity Request URL.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			srv.SigningSecret = os.Getenv(SlackSigningSecretEnv)
			if srv.SigningSecret == "" {
				return usagef("$%s is not set: the bridge cannot verify that requests come from Slack", SlackSigningSecretEnv)
			}
			srv.Users = map[string]string{}
			if usersFile != "" {
				fromFile, err := slackbridge.LoadUsers(usersFile)
				if err != nil {
					return usageError(err)
				}
				maps.Copy(srv.Users, fromFile)
			}
			maps.Copy(srv.Users, users) // flags win over the file
			if err := slackbridge.CheckUsers(srv.Users); err != nil {
				return usageError(err)
			}
			if len(srv.Users) == 0 {
				return usagef("no Slack users mapped: every click would be refused; give --users or --users-file")
			}
			if token := os.Getenv(SlackBotTokenEnv); token != "" {
				srv.Slack = slack.New(token)
			}
			srv.Logger = slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: level}))
			if signingKey != "" {
				key, closeKey, err := signing.OpenSigner(signingKey)
				if err != nil {
					return usagef("--signing-key %s: %v", signingKey, err)
				}
				defer closeKey()
				srv.SigningKey = key
				srv.Logger.Info("slack bridge signs for the users it maps", "key", slackbridge.SigningKeyFingerprint(key))
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			// The status client reads a change before its buttons act (and a release's
			// gate before the bridge signs).
			srv.Temporal, srv.Status = c, c
			if err := srv.Run(cmd.Context()); err != nil {
				return WithCode(ExitError, fmt.Errorf("slack-bridge: %w", err))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&srv.Listen, "listen", slackbridge.DefaultListen, "host:port to serve on")
	f.StringVar(&srv.Path, "path", slackbridge.DefaultPath, "path of the Interactivity Request URL")
	f.StringToStringVar(&users, "users", nil, "Slack user ID=identity pairs, comma-separated (e.g. U0123ABCD=alice)")
	f.StringVar(&usersFile, "users-file", "", "YAML or JSON file mapping Slack user IDs to identities")
	f.StringVar(&srv.Team, "team", "", "accept clicks from this Slack workspace ID only (e.g. T0123ABCD)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&signingKey, "signing-key", "", `sign requests for the mapped users with this SSH key: a private key file, "agent", or KEY.pub of an ssh-agent key`)
	return cmd
}
