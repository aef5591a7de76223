// Command zerodown is the release CLI that CI and humans use: validate, plan, start,
// approve, abort, pause, resume, promote, status and list releases.
//
// This main only wires signals to the CLI. The commands live in internal/cli; the worker
// they can run (`zerodown worker`) is assembled in internal/workerapp.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zerodown/zerodown/internal/cli"
)

func main() {
	// Ctrl-C stops waiting, never the release: it runs on in Temporal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
