package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/workerapp"
)

// WorkerMain runs the zerodown-worker program: the `worker` command as its own root.
func WorkerMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &App{Stdout: stdout, Stderr: stderr}
	cmd := a.workerCommand()
	cmd.Use = "zerodown-worker"
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.CompletionOptions.DisableDefaultCmd = true
	a.connectionFlags(cmd)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return a.execute(ctx, cmd, args)
}

func (a *App) workerCommand() *cobra.Command {
	var (
		providers      []string
		localEndpoint  string
		metricsAddress string
		logLevel       string
		stopTimeout    time.Duration
		connectTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a zerodown worker: it carries out the releases",
		Long: fmt.Sprintf(`worker connects to Temporal, serves the %q task queue and carries out releases
on the fleets of the given providers. It serves SDK metrics for Prometheus on
--metrics and stops gracefully on SIGINT or SIGTERM: running activities get
--stop-timeout to finish.

Release threads go to Slack when $%s is set (each spec names its channel
in notify.slack.channel); without it, release events go to the worker's log.`, "zerodown", workerapp.SlackBotTokenEnv),
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: level}))
			err := workerapp.Run(cmd.Context(), workerapp.Options{
				Connection:     a.conn,
				Providers:      providers,
				LocalEndpoint:  localEndpoint,
				MetricsAddress: metricsAddress,
				StopTimeout:    stopTimeout,
				ConnectTimeout: connectTimeout,
				Logger:         logger,
			})
			if err != nil {
				return WithCode(ExitError, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&providers, "providers", workerapp.DefaultProviders,
		"fleet providers to serve, comma-separated (known: "+strings.Join(workerapp.KnownProviders(), ", ")+")")
	f.StringVar(&localEndpoint, "local-endpoint", "", "local cloud API for specs that name none (default: $"+workerapp.LocalEndpointEnv+", then "+local.DefaultEndpoint+")")
	f.StringVar(&metricsAddress, "metrics", workerapp.DefaultMetricsAddress, "host:port serving /metrics for Prometheus; empty disables")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&stopTimeout, "stop-timeout", workerapp.DefaultStopTimeout, "on SIGINT/SIGTERM, how long running activities may finish")
	f.DurationVar(&connectTimeout, "connect-timeout", workerapp.DefaultConnectTimeout, "how long to keep trying to reach Temporal at start")
	return cmd
}
