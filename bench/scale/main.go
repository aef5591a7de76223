// Command scale is the scale benchmark of issue 6 (`make bench-scale`): (a) 1,000
// concurrent releases, each on its own in-memory fleet, served by one in-process worker
// against a Temporal dev server — time to finish, the worker's memory, task latencies —
// and (b) the history of a 4-hour soak checked every 10 seconds (1,440 checks, time
// scaled down), counted run by run across its continue-as-new chain. It prints both
// tables, appends them to BENCHMARKS.md with the machine and the date, and exits 1 when
// a release did not end as it should or a run holds more than 4,096 events.
//
// With --workers 1,2, part (a) runs once per worker count, one after the other against
// the same dev server, and a side-by-side table compares them: more workers on one task
// queue is how zerodown scales out.
//
//	go run ./bench/scale [--releases 1000] [--checks 1440] [--parts concurrent,soak] [--workers 1,2]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
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
		workerCounts = flag.String("workers", "1", "(a) workers serving, one round per comma-separated count (e.g. 1,2)")
	)
	flag.Parse()
	run := strings.Split(*parts, ",")
	counts, err := parseCounts(*workerCounts)
	if err != nil {
		fail(err)
	}
	if len(counts) > 1 && slices.Contains(run, "soak") {
		fail(errors.New("--workers with several counts compares part (a) only: add --parts concurrent (run the soak on its own)"))
	}
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
	die := func(err error) { // fail, without leaving the dev server behind
		_ = srv.Stop()
		fail(err)
	}
	c := srv.Client()
	// Workers beyond the first get their own connection, as separate processes would.
	startWorkers := func(n int) (*measure.Worker, func()) {
		clients := []client.Client{c}
		for range n - 1 {
			extra, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: client.DefaultNamespace,
				Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))})
			if err != nil {
				die(err)
			}
			clients = append(clients, extra)
		}
		w, err := measure.StartWorkers(ctx, clients)
		if err != nil {
			die(err)
		}
		return w, func() {
			for _, extra := range clients[1:] {
				extra.Close()
			}
		}
	}
	w, closeClients := startWorkers(counts[0])
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
		var rounds []*measure.ConcurrentResult
		for i, n := range counts {
			if ctx.Err() != nil {
				break
			}
			env := measure.Environment
			if len(counts) > 1 {
				env = fmt.Sprintf("%s-%dw", measure.Environment, n)
			}
			if i > 0 {
				failures = append(failures, w.Stop())
				closeClients()
				w, closeClients = startWorkers(n)
			}
			say("part (a) with %d worker(s)", n)
			res, err := measure.Concurrent(ctx, c, w, measure.ConcurrentConfig{
				Releases: *releases, Instances: *instances, Soak: *soak, Interval: *interval, Starters: *starters, Progress: say,
				Environment: env,
			})
			if res != nil && err == nil {
				table := res.Markdown()
				fmt.Printf("\n==== (a) %d concurrent releases, %d worker(s) ====\n%s\n%s\n", *releases, n, mach, table)
				fmt.Fprintf(&body, "### (a) %d concurrent releases, %d worker(s)\n\n%s\n", *releases, n, table)
				err = res.Check()
				rounds = append(rounds, res)
			}
			failures = append(failures, err)
		}
		if len(rounds) > 1 {
			table := measure.SideBySide(rounds)
			fmt.Printf("\n==== (a) side by side ====\n%s\n", table)
			fmt.Fprintf(&body, "### (a) %d concurrent releases: %s workers side by side\n\nSame run, same dev server, one round after the other; "+
				"the workers are in this process (memory fleets live in a process), each with its own client connection and SDK worker "+
				"polling the one task queue, on a machine of 2 cores that the dev server shares.\n\n%s\n",
				*releases, *workerCounts, table)
		}
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
	closeClients()
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

// parseCounts reads --workers: positive counts, comma-separated.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return nil, fmt.Errorf("--workers %q: want counts from 1 to 16, comma-separated", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
