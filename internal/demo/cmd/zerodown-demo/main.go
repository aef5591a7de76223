// Command zerodown-demo is what `make demo` runs: the local world, one release with live
// progress, and a summary of the requests served and lost. Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/internal/demo"
)

func main() {
	var (
		releases = flag.String("releases", "v2", "versions to release in turn (v3 is the bad build)")
		noBuild  = flag.Bool("no-build", false, "use the binaries already in bin/")
		approve  = flag.Duration("approve-after", 10*time.Second, "how long an approval waits for you before the demo approves")
		rate     = flag.Float64("rate", 50, "HTTP requests per second")
		ws       = flag.Int("ws-clients", 8, "WebSocket clients")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := demo.FromRepo(ctx, *noBuild, os.Stdout)
	if err != nil {
		fail(err)
	}
	opts.Releases, opts.ApproveAfter, opts.Rate, opts.WSClients = strings.Split(*releases, ","), *approve, *rate, *ws
	sum, err := demo.Run(ctx, opts)
	if ctx.Err() != nil {
		// Ctrl-C: Run has already stopped everything it started and printed the summary.
		fmt.Println("interrupted: everything the demo started has stopped")
		os.Exit(130)
	}
	if err != nil {
		fail(err)
	}
	if sum.Load == nil || !sum.Load.ZeroLoss() {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zerodown-demo:", err)
	os.Exit(1)
}
