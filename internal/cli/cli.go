// Package cli is the zerodown command line: validate and plan release specs, start a
// release and follow it, approve, abort, pause, resume or promote it, and look at it.
// It talks to Temporal only; the worker does the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultPollInterval paces --wait and --watch: one status query a second.
const DefaultPollInterval = time.Second

// dialTimeout bounds connecting; rpcTimeout bounds one query or describe, so that a
// release without a live worker is reported rather than waited on forever.
const (
	dialTimeout = 10 * time.Second
	rpcTimeout  = 10 * time.Second
)

// App is one invocation of the command line. The zero value writes to os.Stdout and
// os.Stderr; tests set the writers and may inject fleets.
type App struct {
	Stdout io.Writer
	Stderr io.Writer
	// Fleets describes the current fleet for `plan`; nil uses the providers that can be
	// reached from this machine.
	Fleets fleet.Registry
	// PollInterval paces --wait and --watch (DefaultPollInterval if zero).
	PollInterval time.Duration

	conn workerapp.Connection
}

// Main runs the zerodown command with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&App{Stdout: stdout, Stderr: stderr}).Run(ctx, args)
}

// Run runs the zerodown command and returns the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	return a.execute(ctx, a.rootCommand(), args)
}

func (a *App) execute(ctx context.Context, cmd *cobra.Command, args []string) int {
	if a.Stdout == nil {
		a.Stdout = os.Stdout
	}
	if a.Stderr == nil {
		a.Stderr = os.Stderr
	}
	if a.PollInterval <= 0 {
		a.PollInterval = DefaultPollInterval
	}
	cmd.SetArgs(args)
	cmd.SetOut(a.Stdout)
	cmd.SetErr(a.Stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitSucceeded
	}
	if isCobraUsage(err) {
		err = usageError(err)
	}
	a.report(err)
	return ExitCode(err)
}

// report prints err as one clear line (or, for an invalid spec, one line per field).
func (a *App) report(err error) {
	var ce *CodeError
	if errors.As(err, &ce) {
		if ce.Silent {
			return
		}
		if ce.Code == ExitInvalidSpec || ce.Code == ExitRefused || ce.Code == ExitUsage {
			fmt.Fprintln(a.Stderr, ce.Err.Error())
			return
		}
	}
	fmt.Fprintln(a.Stderr, "error: "+oneLine(err.Error()))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (a *App) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "zerodown",
		Short: "Release a server fleet with no downtime, durably, on Temporal",
		Long: `zerodown releases a new version of a fleet: canary, soak with analysis, approval,
batch-by-batch promotion and draining, with automatic rollback. Each release is a
Temporal workflow with ID release/<service>/<environment>.

Connection: the standard Temporal client configuration (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and the config
file); --address and --namespace override it.

` + exitCodesHelp,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	a.connectionFlags(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(
		a.validateCommand(),
		a.planCommand(),
		a.startCommand(),
		a.updateCommand(updateApprove),
		a.updateCommand(updateAbort),
		a.updateCommand(updatePause),
		a.updateCommand(updateResume),
		a.updateCommand(updatePromote),
		a.revertCommand(),
		a.signCommand(),
		a.statusCommand(),
		a.listCommand(),
		a.workerCommand(),
		a.localcloudCommand(),
		a.slackBridgeCommand(),
		a.changeCommand(),
		a.freezeCommand(),
		a.scheduleCommand(),
		a.setupCommand(), a.codecServerCommand(),
	)
	root.AddCommand(a.clockCommands()...)
	return root
}

func (a *App) connectionFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&a.conn.Address, "address", "", "Temporal frontend host:port (default: $TEMPORAL_ADDRESS, the config profile, or localhost:7233)")
	f.StringVar(&a.conn.Namespace, "namespace", "", "Temporal namespace (default: $TEMPORAL_NAMESPACE, the config profile, or default)")
	f.StringVar(&a.conn.Profile, "profile", "", "profile of the Temporal config file (default: $TEMPORAL_PROFILE or default)")
}

// dial connects to Temporal. The SDK's own logs stay at warnings: the CLI's output is
// for people and scripts.
func (a *App) dial(ctx context.Context) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := a.conn.Dial(ctx, logger, nil)
	if err != nil {
		return nil, WithCode(ExitError, err)
	}
	return c, nil
}

// namespace is the namespace the connection resolves to.
func (a *App) namespace() string {
	opts, err := a.conn.ClientOptions()
	if err != nil || opts.Namespace == "" {
		return client.DefaultNamespace
	}
	return opts.Namespace
}

// usageError marks a wrong invocation (exit 2) and points to --help.
func usageError(err error) error {
	var ce *CodeError
	if errors.As(err, &ce) {
		return err
	}
	return WithCode(ExitUsage, fmt.Errorf("usage: %s (see --help)", err.Error()))
}

func usagef(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// isCobraUsage recognises the errors cobra itself returns for wrong invocations.
func isCobraUsage(err error) bool {
	var ce *CodeError
	if errors.As(err, &ce) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least", "invalid argument", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// args wraps a cobra argument check so that its failure is a usage error that shows
// how the command is used.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return WithCode(ExitUsage, fmt.Errorf("usage: %s (%v)", cmd.UseLine(), err))
		}
		return nil
	}
}

// defaultActor is who acts when --by is not given: $USER, else the OS account.
func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// releaseID turns "board/prod" (or "release/board/prod") into the workflow ID.
func releaseID(arg string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(arg), "release/")
	service, env, ok := strings.Cut(s, "/")
	if !ok || service == "" || env == "" || strings.Contains(env, "/") {
		return "", usagef("%q is not SERVICE/ENVIRONMENT (e.g. board/prod)", arg)
	}
	return schemas.ReleaseID(service, env), nil
}
