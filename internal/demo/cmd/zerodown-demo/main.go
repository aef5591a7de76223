// Command zerodown-demo is what `make demo` runs: the local world, one release with live
// progress, and a summary of the requests served and lost. Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/workflows"
)

func main() {
	var (
		releases  = flag.String("releases", "v2", "versions to release in turn (v3 is the bad build; v4 the one only Sentry sees, with --sentry)")
		traffic   = flag.Bool("traffic", false, "give the canary traffic steps (1, 5, 25, 50 %) and print the share measured at each: "+demo.TrafficSpec)
		useSentry = flag.Bool("sentry", false, "judge canaries by Sentry (a stand-in for it, fed by the fleet through sentry-go): "+demo.SentrySpec)
		noBuild   = flag.Bool("no-build", false, "use the binaries already in bin/")
		approve   = flag.Duration("approve-after", 10*time.Second, "how long an approval waits for you before the demo approves")
		rate      = flag.Float64("rate", 50, "HTTP requests per second")
		ws        = flag.Int("ws-clients", 8, "WebSocket clients")
		change    = flag.String("change", "", "run a change of two services instead: night (make demo-change), bad (make demo-change-bad) or late (make demo-change-late: the landing tests never confirm, decideBy rolls back)")
		confirm   = flag.Duration("confirm-after", 5*time.Second, "with --change: how long the landing confirmation waits for you")
		lb        = flag.String("lb", "", "haproxy: fixed servers behind a real HAProxy, upgraded in place (make demo LB=haproxy)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := demo.FromRepo(ctx, *noBuild, os.Stdout)
	if err != nil {
		fail(err)
	}
	if *change != "" {
		runChange(ctx, opts, *change, *confirm, *noBuild, *rate, *ws)
		return
	}
	if *useSentry {
		opts.Spec = filepath.Join(opts.Root, demo.SentrySpec)
	}
	if *traffic {
		opts.Spec = filepath.Join(opts.Root, demo.TrafficSpec)
	}
	opts.Releases, opts.ApproveAfter, opts.Rate, opts.WSClients = strings.Split(*releases, ","), *approve, *rate, *ws
	run := demo.Run
	switch *lb {
	case "":
	case "haproxy":
		run = demo.RunOnPrem
	default:
		fail(fmt.Errorf("--lb %q: the only other load balancer is haproxy", *lb))
	}
	sum, err := run(ctx, opts)
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

// runChange is `make demo-change` and `make demo-change-bad`.
func runChange(ctx context.Context, opts demo.Options, which string, confirmAfter time.Duration, noBuild bool, rate float64, ws int) {
	if which != "night" && which != "bad" && which != "late" {
		fail(fmt.Errorf("--change %q: night, bad or late", which))
	}
	if !noBuild {
		fmt.Println("building the night's versions (back end " + demo.APIOld + ", " + demo.APINew + "; front end " + demo.WebOld + ", " + demo.WebNew + ", and " + demo.WebBad + " with a broken sanity path)...")
		if err := demo.BuildChange(ctx, opts.Root, opts.BinDir); err != nil {
			fail(err)
		}
	}
	opts.Rate, opts.WSClients = rate, ws
	sum, err := demo.RunChange(ctx, demo.ChangeOptions{Options: opts, Bad: which == "bad", Late: which == "late", ConfirmAfter: confirmAfter})
	if ctx.Err() != nil {
		fmt.Println("interrupted: everything the demo started has stopped")
		os.Exit(130)
	}
	if err != nil {
		fail(err)
	}
	want := workflows.PhaseSucceeded
	if which == "bad" || which == "late" {
		want = workflows.PhaseRolledBack
	}
	if sum.Status.Phase != want || !sum.ZeroLoss() {
		fmt.Printf("zerodown-demo: the change ended %s (expected %s), or someone noticed\n", sum.Status.Phase, want)
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zerodown-demo:", err)
	os.Exit(1)
}
