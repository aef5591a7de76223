// Command zerodown-worker runs the zerodown worker: it carries out releases, serves SDK
// metrics on /metrics and stops gracefully on SIGINT or SIGTERM.
//
// This main only wires signals to the CLI. The worker is assembled in internal/workerapp:
// the Temporal connection, the fleet providers and analyzers it injects into the
// activities, the notifier, and the registration of workflows and activities.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerodown/zerodown/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.WorkerMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
