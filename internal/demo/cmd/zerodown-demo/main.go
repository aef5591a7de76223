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
	root, err := os.Getwd()
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	temporal, err := demo.TemporalCLI()
	if err != nil {
		fail(err)
	}
	bin := filepath.Join(root, "bin")
	if !*noBuild {
		fmt.Println("building zerodown, its worker and the demo service (v1, v2, and v3 with a bug)...")
		if err := demo.Build(ctx, root, bin); err != nil {
			fail(err)
		}
	}
	sum, err := demo.Run(ctx, demo.Options{
		Root: root, BinDir: bin, TemporalCLI: temporal,
		Releases: strings.Split(*releases, ","), ApproveAfter: *approve, Rate: *rate, WSClients: *ws,
	})
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
