// Command scale is the scale benchmark of issue 6 (`make bench-scale`): (a) 1,000
// concurrent releases, each on its own in-memory fleet, served by one in-process worker
// against a Temporal dev server — time to finish, the worker's memory, task latencies —
// and (b) the history of a 4-hour soak checked every 10 seconds (1,440 checks, time
// scaled down), counted run by run across its continue-as-new chain. It prints both
// tables, appends them to BENCHMARKS.md with the machine and the date, and exits 1 when
// a release did not end as it should or a run holds more than 4,096 events.
//
//	go run ./bench/scale [--releases 1000] [--checks 1440] [--parts concurrent,soak]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/bench/scale/measure"
	"github.com/zerodown/zerodown/internal/benchrecord"
	"github.com/zerodown/zerodown/internal/testharness"
)

func main() {
	var (
		releases     = flag.Int("releases", 1000, "(a) concurrent releases")
		instances    = flag.Int("instances", 4, "(a) instances per fleet")
		soak         = flag.Duration("soak", 5*time.Second, "(a) soak of each release")
		interval     = flag.Duration("interval", time.Second, "(a) check interval")
		starters     = flag.Int("starters", 50, "(a) releases started in parallel")
		checks       = flag.Int("checks", 1440, "(b) soak checks (1,440 = 4 hours every 10 s)")
		checkEvery   = flag.Duration("check-interval", time.Second, "(b) time between checks (the dev server fires no timer sooner than ~1s)")
		checksPerRun = flag.Int("checks-per-run", 0, "(b) ReleaseInput.ChecksPerRun (0: the workflow's default)")
		parts        = flag.String("parts", "concurrent,soak", "parts to run")
		record       = flag.String("record", "BENCHMARKS.md", "file to append the tables to (empty: do not record)")
	)
	flag.Parse()
	run := strings.Split(*parts, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	exe, err := testharness.TemporalCLI()
	if err != nil {
		fail(err)
	}
	mach := benchrecord.Machine() // before the load: the load average says how busy others kept it
	started := time.Now()
	var serverOut bytes.Buffer
	srv, err := testsuite.StartDevServer(ctx, testharness.DevServerOptions(exe, &lockedWriter{w: &serverOut}))
	if err != nil {
		fail(fmt.Errorf("start the Temporal dev server: %w\n%s", err, serverOut.String()))
	}
	defer func() { _ = srv.Stop() }()
	c := srv.Client()
	w, err := measure.StartWorker(ctx, c)
	if err != nil {
		fail(err)
	}
	say := func(format string, args ...any) {
		fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	// The long soak only counts history events, which no load changes, and mostly waits
	// on its timers: it runs beside part (a) instead of adding its 24 minutes after it.
	var (
		soakRes *measure.SoakResult
		soakErr error
		soakWG  sync.WaitGroup
	)
	if slices.Contains(run, "soak") {
		soakWG.Go(func() {
			soakRes, soakErr = measure.LongSoak(ctx, c, w, measure.SoakConfig{
				Checks: *checks, Interval: *checkEvery, ChecksPerRun: *checksPerRun, Progress: say,
			})
		})
	}
	var body strings.Builder
	var failures []error
	if slices.Contains(run, "concurrent") {
		res, err := measure.Concurrent(ctx, c, w, measure.ConcurrentConfig{
			Releases: *releases, Instances: *instances, Soak: *soak, Interval: *interval, Starters: *starters, Progress: say,
		})
		if res != nil && err == nil {
			table := res.Markdown()
			fmt.Printf("\n==== (a) %d concurrent releases ====\n%s\n%s\n", *releases, mach, table)
			fmt.Fprintf(&body, "### (a) %d concurrent releases\n\n%s\n", *releases, table)
			err = res.Check()
		}
		failures = append(failures, err)
	}
	if slices.Contains(run, "soak") {
		say("waiting for the long soak")
		soakWG.Wait()
		if soakRes != nil && soakErr == nil {
			table := soakRes.Markdown()
			fmt.Printf("\n==== (b) a 4-hour soak's history ====\n%s\n", table)
			fmt.Fprintf(&body, "### (b) history of a 4-hour soak checked every 10 s\n\n%s\n", table)
			soakErr = soakRes.Check()
		}
		failures = append(failures, soakErr)
	}
	if err := w.Stop(); err != nil {
		failures = append(failures, err)
	}
	verdict := "all releases ended as they should, every run within 4,096 history events"
	if err := errors.Join(failures...); err != nil {
		verdict = "FAILED: " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	fmt.Println(verdict)
	if *record != "" && body.Len() > 0 {
		body.WriteString(verdict + "\n\nRun again with `make bench-scale` (or `go run ./bench/scale`; `--help` lists the knobs).\n")
		if err := benchrecord.Append(*record, benchrecord.Section{Name: "scale", Started: started, Machine: mach, Body: body.String()}); err != nil {
			fail(err)
		}
		fmt.Printf("recorded in %s\n", *record)
	}
	if errors.Join(failures...) != nil {
		os.Exit(1)
	}
}

// lockedWriter keeps the dev server's two output streams from writing at once.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
