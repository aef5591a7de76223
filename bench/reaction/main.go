// Command reaction measures how fast canary analysis catches a bad canary: from the
// moment the canary starts failing to the moment a check's verdict is Fail and, in a
// real release, to the moment the canary takes no more traffic. The goal is at most
// one analysis interval plus 2 s.
//
// The canary is the demo service with --error-rate 0.5. Before the instant it "starts
// failing" its load goes to /smoke, which the fault never touches (so it serves 100%
// 2xx, counted in the same http_requests_total); at that instant the load moves to the
// API, where half the answers become 500s. The instant falls at a random phase of the
// check cycle, as a real bug does, so the spread of reaction times is honest.
//
// Three modes, each for the scrape provider, a real Prometheus and Sentry (-providers
// sentry: a stand-in for Sentry, which cannot run here, that every instance reports to
// through sentry-go; it ingests at once, where a real Sentry adds its ingestion delay):
//
//   - analysis: the analyzer alone, checked every interval as the soak does (sleep one
//     interval, check), measuring to the Fail verdict;
//   - release: a real release on a Temporal dev server (the pinned CLI), an in-process
//     worker and the local cloud, with failureLimit 1 and load through the load
//     balancer, measuring to the Fail verdict in the release's status and to the
//     canary's detach, and when it last answered a request;
//   - steps: the same release with traffic steps (canary.traffic 5, 25, 50), the failure
//     starting during the 25 % step, measuring to the Fail verdict and to the moment the
//     balancer gives the canary 0 % (or detaches it).
//
// It prints a table and appends it to BENCHMARKS.md.
//
//	go run ./bench/reaction [-interval 5s] [-runs 5] [-providers scrape,prometheus] [-modes analysis,release,steps] [-out BENCHMARKS.md]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/internal/benchrecord"
	"github.com/zerodown/zerodown/schemas"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reaction:", err)
		os.Exit(1)
	}
}

type options struct {
	interval  time.Duration
	runs      int
	providers []string
	modes     []string
	out       string
	dir       string
}

func run() error {
	var o options
	var providers, modes string
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "analysis interval")
	flag.IntVar(&o.runs, "runs", 5, "bad canaries per provider and mode")
	flag.StringVar(&providers, "providers", "scrape,prometheus", "analysis providers to measure: scrape, prometheus, sentry")
	flag.StringVar(&modes, "modes", "analysis,release", "analysis (the analyzer alone), release (a real release on Temporal) and/or steps (a release with traffic steps)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", `file the table is appended to ("" for none)`)
	flag.Parse()
	o.providers = strings.Split(providers, ",")
	o.modes = strings.Split(modes, ",")
	for _, p := range o.providers {
		if p != schemas.AnalysisScrape && p != schemas.AnalysisPrometheus && p != schemas.AnalysisSentry {
			return fmt.Errorf("-providers: unknown provider %q", p)
		}
	}
	for _, m := range o.modes {
		if m != "analysis" && m != "release" && m != "steps" {
			return fmt.Errorf("-modes: unknown mode %q", m)
		}
	}
	if o.runs < 1 || o.interval < time.Second {
		return errors.New("-runs must be at least 1 and -interval at least 1s")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "zerodown-reaction-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.dir = dir

	started, machine := time.Now(), benchrecord.Machine()
	b, err := newBench(ctx, o)
	if err != nil {
		return err
	}
	defer b.close()

	var rows []row
	for _, mode := range o.modes {
		for _, provider := range o.providers {
			for i := 1; i <= o.runs; i++ {
				var r row
				var err error
				if mode == "analysis" {
					r, err = b.analysisRun(ctx, provider, i)
				} else {
					r, err = b.releaseRun(ctx, provider, i, mode)
				}
				if err != nil {
					return fmt.Errorf("%s/%s run %d: %w", mode, provider, i, err)
				}
				fmt.Println(r.line(o.interval))
				rows = append(rows, r)
			}
		}
	}

	table := render(o, rows)
	fmt.Println()
	fmt.Print(table)
	if o.out != "" {
		if err := benchrecord.Append(o.out, benchrecord.Section{Name: "Canary analysis reaction time", Started: started, Machine: machine, Body: table}); err != nil {
			return err
		}
		fmt.Printf("\nappended to %s\n", o.out)
	}
	return nil
}

// row is one bad canary.
type row struct {
	mode, provider string
	run            int
	verdict        time.Duration // failure start -> Fail verdict
	detached       time.Duration // failure start -> canary detached (release mode)
	lastServed     time.Duration // failure start -> last request the canary answered (release mode)
	checksBefore   int           // passing checks before the failure started
	falseAlarms    int           // checks that failed before the failure started
	summary        string        // the failing check's summary
}

func (r row) line(interval time.Duration) string {
	s := fmt.Sprintf("%-8s %-10s run %d: Fail verdict after %s (%.2f intervals)", r.mode, r.provider, r.run, r.verdict.Round(time.Millisecond), r.verdict.Seconds()/interval.Seconds())
	if r.mode != "analysis" {
		s += fmt.Sprintf(", detached after %s, last served %s", r.detached.Round(time.Millisecond), r.lastServed.Round(time.Millisecond))
	}
	return s + " — " + r.summary
}

func render(o options, rows []row) string {
	var b strings.Builder
	goal := o.interval + 2*time.Second
	fmt.Fprintf(&b, "Reaction to a bad canary (demo service, --error-rate 0.5 from a random instant), analysis interval %s, goal ≤ %s (one interval + 2 s). `go run ./bench/reaction -interval %s -runs %d -providers %s -modes %s`\n\n",
		o.interval, goal, o.interval, o.runs, strings.Join(o.providers, ","), strings.Join(o.modes, ","))
	b.WriteString("| mode | provider | runs | to Fail verdict: median | max | max in intervals | to detach (steps: to 0 %): median | max | last request served: max | false alarms | within goal |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, mode := range o.modes {
		for _, provider := range o.providers {
			var v, d, l []time.Duration
			alarms := 0
			for _, r := range rows {
				if r.mode == mode && r.provider == provider {
					v, d, l = append(v, r.verdict), append(d, r.detached), append(l, r.lastServed)
					alarms += r.falseAlarms
				}
			}
			if len(v) == 0 {
				continue
			}
			worst := slices.Max(v)
			within := worst <= goal
			dm, dx, lx := "–", "–", "–"
			if mode != "analysis" {
				dm, dx, lx = sec(median(d)), sec(slices.Max(d)), sec(slices.Max(l))
				within = within && slices.Max(d) <= goal
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %.2f | %s | %s | %s | %d | %s |\n", mode, provider, len(v), sec(median(v)), sec(worst),
				worst.Seconds()/o.interval.Seconds(), dm, dx, lx, alarms, map[bool]string{true: "yes", false: "**no**"}[within])
		}
	}
	return b.String()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// demoPath is where the bench keeps a build of version v.
func demoPath(dir, v string) string { return filepath.Join(dir, "releases", v, "demoapp") }
