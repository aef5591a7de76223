// Command chaos is the chaos benchmark of issue 6 (`make bench-chaos`): releases of the
// demo service on the local cloud under load — good builds that must succeed, the bad
// v3 that must roll back — while the worker is SIGKILLed at least 50 times at seeded
// random moments of every phase, the Temporal dev server restarts mid-soak and the local
// cloud daemon restarts mid-release. It checks every release (outcome, fleet, launches
// per step against the plan, leaks) and the load, prints the tables, appends them to
// BENCHMARKS.md with the machine and the date, and exits 1 when a claim did not hold.
//
//	go run ./bench/chaos [--seed N] [--kills 50] [--short] [--no-build]
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

	"github.com/zerodown/zerodown/bench/chaos/monkey"
	"github.com/zerodown/zerodown/internal/benchrecord"
	"github.com/zerodown/zerodown/internal/demo"
)

func main() {
	var (
		seed     = flag.Int64("seed", time.Now().UnixNano(), "seed of every random choice: the same seed draws the same chaos")
		short    = flag.Bool("short", false, "the CI form: 2 releases, a few kills, one restart of each server")
		kills    = flag.Int("kills", 50, "least worker kills (full form)")
		releases = flag.Int("max-releases", 20, "most releases (full form)")
		rate     = flag.Float64("rate", 40, "HTTP requests per second")
		ws       = flag.Int("ws-clients", 8, "WebSocket clients")
		workDir  = flag.String("work-dir", "", "state, logs and histories (default .tmp/bench-chaos; wiped at start)")
		noBuild  = flag.Bool("no-build", false, "use the binaries already in bin/")
		record   = flag.String("record", "BENCHMARKS.md", "file to append the tables to (empty: do not record)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	repo, err := demo.FromRepo(ctx, *noBuild, os.Stdout)
	if err != nil {
		fail(err)
	}
	fmt.Printf("seed %d (go run ./bench/chaos --seed %d draws the same chaos)\n", *seed, *seed)
	mach := benchrecord.Machine() // before the load: the load average says how busy others kept it
	cfg := monkey.Config{
		Root: repo.Root, BinDir: repo.BinDir, WorkDir: *workDir, TemporalCLI: repo.TemporalCLI,
		Seed: *seed, Short: *short, Kills: *kills, MaxReleases: *releases, Rate: *rate, WSClients: *ws,
	}
	res, runErr := monkey.Run(ctx, cfg)
	table := res.Markdown()
	fmt.Printf("\n==== chaos ====\n%s\n%s\n", mach, table)
	minKills := *kills
	if *short {
		minKills = 3
	}
	verdict := "every claim held: right outcomes, exact fleets, each step launched once, no leak, no failed request outside local cloud crashes"
	checkErr := res.Check(minKills)
	switch {
	case runErr != nil:
		verdict = "incomplete run: " + runErr.Error()
	case checkErr != nil:
		verdict = "FAILED: " + strings.ReplaceAll(checkErr.Error(), "\n", "; ")
	}
	fmt.Println(verdict)
	if *record != "" && len(res.Releases) > 0 {
		how := fmt.Sprintf("Run again with `make bench-chaos` or `go run ./bench/chaos --seed %d`", *seed)
		if *short {
			how += " --short"
		}
		body := table + "\n" + verdict + "\n\n" + how + " (same seed, same chaos; timings differ).\n"
		if err := benchrecord.Append(*record, benchrecord.Section{Name: "chaos", Started: res.Started, Machine: mach, Body: body}); err != nil {
			fail(err)
		}
		fmt.Printf("recorded in %s\n", *record)
	}
	if runErr != nil || checkErr != nil {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(1)
}
