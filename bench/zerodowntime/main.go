// Command zerodowntime is the side-by-side benchmark of issue 4 (`make
// bench-zerodowntime`): 8 instances of the demo service under 500 requests/s and 100
// WebSocket clients, replaced once by a zerodown release (canary, soak, rolling promote
// two at a time, drain) and once the naive way (terminate, launch, attach), each on its own
// local cloud under the same load. It prints what users saw in a table, appends it to
// BENCHMARKS.md with the machine and the date, and exits 1 when the zerodown column
// does not show zero downtime.
//
// The inplace columns do the same with fixed servers behind a real HAProxy, upgraded where
// they stand: a zerodown in-place release against a stop-and-start of each server.
//
//	go run ./bench/zerodowntime [--rate 500] [--ws-clients 100] [--modes zerodown,naive,inplace,inplace-naive] [--no-build]
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

	"github.com/zerodown/zerodown/bench/zerodowntime/sidebyside"
	"github.com/zerodown/zerodown/internal/benchrecord"
	"github.com/zerodown/zerodown/internal/demo"
)

// maxP99Ratio is the most the p99 latency during a zerodown release may grow over the
// steady p99 before users would notice.
const maxP99Ratio = 1.5

func main() {
	var (
		instances = flag.Int("instances", sidebyside.DefaultInstances, "fleet size")
		rate      = flag.Float64("rate", sidebyside.DefaultRate, "HTTP requests per second")
		ws        = flag.Int("ws-clients", sidebyside.DefaultWSClients, "WebSocket clients")
		boards    = flag.Int("boards", 10, "boards the load spreads over")
		warmup    = flag.Duration("warmup", 30*time.Second, "steady load before the release")
		cooldown  = flag.Duration("cooldown", 20*time.Second, "least steady load after the release")
		minReq    = flag.Int64("min-requests", sidebyside.DefaultMinRequests, "keep the load until this many requests")
		modes     = flag.String("modes", "zerodown,naive,inplace,inplace-naive", "modes to run, in order")
		noBuild   = flag.Bool("no-build", false, "use the binaries already in bin/")
		record    = flag.String("record", "BENCHMARKS.md", "file to append the table to (empty: do not record)")
		migrates  = flag.Bool("service-migrates", false, "run the demo service with its own session migration on SIGTERM")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	repo, err := demo.FromRepo(ctx, *noBuild, os.Stdout)
	if err != nil {
		fail(err)
	}
	cfg := sidebyside.Config{
		Root: repo.Root, BinDir: repo.BinDir, TemporalCLI: repo.TemporalCLI,
		Instances: *instances, Rate: *rate, WSClients: *ws, Boards: *boards,
		Warmup: *warmup, Cooldown: *cooldown, MinRequests: *minReq, ServiceMigrates: *migrates,
	}
	for _, m := range strings.Split(*modes, ",") {
		cfg.Modes = append(cfg.Modes, sidebyside.Mode(strings.TrimSpace(m)))
	}
	mach := benchrecord.Machine() // before the load: the load average says how busy others kept it
	res, runErr := sidebyside.Run(ctx, cfg)
	table := res.Markdown()
	fmt.Printf("\n==== zero downtime, side by side ====\n%s\n%s\n", mach, table)

	// Every zerodown column (launched instances, and in place) must show zero downtime.
	var verdicts []string
	failed := runErr != nil
	if runErr != nil {
		verdicts = append(verdicts, "incomplete run: "+runErr.Error())
	}
	checked := 0
	for _, m := range []sidebyside.Mode{sidebyside.Zerodown, sidebyside.InPlace} {
		col, ok := res.Column(m)
		if !ok || runErr != nil {
			continue
		}
		checked++
		if err := col.Check(cfg.MinRequests, maxP99Ratio); err != nil {
			failed = true
			verdicts = append(verdicts, fmt.Sprintf("%s column does NOT show zero downtime: %s", m, strings.ReplaceAll(err.Error(), "\n", "; ")))
			continue
		}
		verdicts = append(verdicts, fmt.Sprintf("%s column: zero downtime (0 failed, 0 lost, 0 dropped, p99 within 1.5× steady)", m))
	}
	if checked == 0 && runErr == nil {
		failed = true
		verdicts = append(verdicts, "no zerodown column run")
	}
	verdict := strings.Join(verdicts, "\n")
	fmt.Println(verdict)
	if *record != "" && len(res.Columns) > 0 {
		body := howTo + "\n" + table + "\n" + verdict
		if err := benchrecord.Append(*record, benchrecord.Section{Name: "zerodowntime", Started: res.Started, Machine: mach, Body: body}); err != nil {
			fail(err)
		}
		fmt.Printf("recorded in %s\n", *record)
	}
	if failed {
		os.Exit(1)
	}
}

// howTo opens the recorded section: how to run it again and what the columns mean.
const howTo = `Reproduce with ` + "`make bench-zerodowntime`" + ` (or ` + "`go run ./bench/zerodowntime`" + ` from the
repository root). For each column, a fresh local cloud runs 8 × v1 of the demo service
under the same load, and v1 is replaced by v2: **zerodown** is one release through the CLI
(bench/zerodowntime/release.yaml: canary 1, 30 s soak, rolling promote 2 at a time with 5 s
pauses, session migration, drain; no approval); **naive** is, for each instance, terminate
it (SIGTERM), launch v2, attach it and wait until it is healthy. Both columns run the same
service; unless the load line says otherwise it is started with ` + "`--migrate-on-sigterm=false`" + `:
on SIGTERM it finishes its requests but closes its WebSockets without telling clients
where to go, as a service that knows nothing of migration does. "Steady" is the load
before and after the release, "during the release" the load due between its first and its
last step. **inplace** and **inplace-naive** run the same service, load and versions on
fixed servers behind a real HAProxy 2.6 (round robin, health checks every second): zerodown
upgrades them where they stand, the first as canary (drain, session migration, wait
drained, maintenance, deploy, HAProxy's checks, ready), against stopping and starting each
server on the new version in turn.
`

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zerodowntime:", err)
	os.Exit(1)
}
