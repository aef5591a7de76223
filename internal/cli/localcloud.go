package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/zerodown/zerodown/internal/localcloud"
)

func (a *App) localcloudCommand() *cobra.Command {
	cfg := localcloud.DefaultConfig()
	var logLevel string
	cmd := &cobra.Command{
		Use:   "localcloud",
		Short: "Run the local cloud: instances as processes on loopback behind an L7 load balancer",
		Long: `localcloud runs the daemon behind the "local" fleet provider. It starts instances as
processes on free loopback ports and fronts them with a load balancer that has health
checks, per-version weights and connection draining, like an AWS ALB target group.

It is a process of its own so that the fleet and its traffic outlive a worker crash; a
restarted daemon adopts the instances it left running. Stop it with SIGINT or SIGTERM.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: level}))
			if err := localcloud.Run(cmd.Context(), cfg); err != nil {
				return WithCode(ExitError, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the API that fleet/local talks to")
	f.StringVar(&cfg.LB, "lb", cfg.LB, "address of the load balancer that clients send traffic to")
	f.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "where state, Prometheus file SD targets and instance logs live")
	f.DurationVar(&cfg.HealthInterval, "health-interval", cfg.HealthInterval, "time between health checks of an instance")
	f.DurationVar(&cfg.HealthTimeout, "health-timeout", cfg.HealthTimeout, "timeout of one health check")
	f.IntVar(&cfg.HealthyThreshold, "healthy-threshold", cfg.HealthyThreshold, "consecutive passing checks before an instance takes traffic")
	f.IntVar(&cfg.UnhealthyThreshold, "unhealthy-threshold", cfg.UnhealthyThreshold, "consecutive failing checks before it stops taking traffic")
	f.StringVar(&cfg.DefaultHealthPath, "health-path", cfg.DefaultHealthPath, "health check path when a launch names none")
	f.DurationVar(&cfg.StopGrace, "stop-grace", cfg.StopGrace, "time between SIGTERM and SIGKILL for a terminated instance")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "how long a detached instance keeps open connections when the detach names no deadline")
	f.DurationVar(&cfg.CloseGrace, "close-grace", cfg.CloseGrace, "on stop, how long busy client connections get to end after a response (Connection: close)")
	f.BoolVar(&cfg.TerminateOnExit, "terminate-on-exit", cfg.TerminateOnExit, "stop every instance when the daemon stops (default: leave them to be adopted)")
	f.BoolVar(&cfg.KillInstancesWithDaemon, "kill-instances-with-daemon", cfg.KillInstancesWithDaemon, "have the kernel stop instances if the daemon dies (Linux)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
