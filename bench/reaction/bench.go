package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/prom"
	"github.com/zerodown/zerodown/analysis/scrape"
	"github.com/zerodown/zerodown/analysis/sentry"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/analysistest"
	"github.com/zerodown/zerodown/internal/sentrytest"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

// Versions: the fleet runs good, canaries run bad (the same build with the fault baked in).
const (
	good = "v1"
	bad  = "v2"
	// loadRate is requests per second to each instance (analysis mode) or to the load
	// balancer (release mode).
	loadRate = 30
)

// bench is the world every run shares: the builds, a local cloud with the baseline
// fleet, Prometheus, and (release mode) a Temporal dev server with a worker.
type bench struct {
	o        options
	world    *analysistest.World
	baseline []fleet.Instance
	prom     *analysistest.Prometheus
	scrape   *scrape.Analyzer // one per bench, as one lives in a worker
	promA    *prom.Analyzer
	// sentry stands in for Sentry (which cannot run here) in sentry mode; every
	// instance reports to it through sentry-go.
	sentry  *sentrytest.Server
	sentryA *sentry.Analyzer
	// lastCanaryGone is when the previous run's canary was terminated.
	lastCanaryGone time.Time

	temporal   *testsuite.DevServer
	stopWorker context.CancelFunc
	workerDone chan error
	lbLoad     *analysistest.Load
	lbAddr     string
}

func newBench(ctx context.Context, o options) (_ *bench, err error) {
	b := &bench{o: o, scrape: scrape.New(), promA: prom.New()}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if slices.Contains(o.providers, schemas.AnalysisSentry) {
		if err := b.startSentry(); err != nil {
			return nil, err
		}
	}
	fmt.Println("building the demo service (good and bad builds)...")
	if err := analysistest.BuildDemoappAt(demoPath(o.dir, good), ""); err != nil {
		return nil, err
	}
	if err := analysistest.BuildDemoappAt(demoPath(o.dir, bad), "--error-rate=0.5"); err != nil {
		return nil, err
	}
	if b.world, err = analysistest.StartWorld(ctx, o.dir, demoPath(o.dir, good)); err != nil {
		return nil, err
	}
	if b.baseline, err = b.world.Launch(ctx, "baseline", good, 2); err != nil {
		return nil, err
	}
	for _, p := range o.providers {
		if p == schemas.AnalysisPrometheus {
			bin, err := analysistest.PrometheusBinary()
			if err != nil {
				return nil, err
			}
			pdir := filepath.Join(o.dir, "prometheus")
			if err := os.MkdirAll(pdir, 0o755); err != nil {
				return nil, err
			}
			if b.prom, err = analysistest.StartPrometheus(ctx, bin, b.world.TargetsFile(), pdir); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range o.modes {
		if m != "analysis" { // both release modes run on one Temporal
			if err := b.startTemporal(ctx); err != nil {
				return nil, err
			}
			break
		}
	}
	return b, nil
}

func (b *bench) close() {
	if b.lbLoad != nil {
		b.lbLoad.Stop()
	}
	if b.stopWorker != nil {
		b.stopWorker()
		<-b.workerDone
	}
	if b.temporal != nil {
		b.temporal.Client().Close()
		_ = b.temporal.Stop()
	}
	b.scrape.Close()
	if b.prom != nil {
		b.prom.Stop()
	}
	if b.world != nil {
		if err := b.world.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the local cloud:", err)
		}
	}
	if b.sentry != nil {
		_ = b.sentry.Close()
	}
}

// startSentry serves the stand-in for Sentry and sets this process's environment so
// that the instances the in-process local cloud launches report to it (SENTRY_DSN, which
// they inherit) and the analyzers, here and in the in-process worker, ask it
// (SENTRY_AUTH_TOKEN). It runs before anything is launched.
func (b *bench) startSentry() error {
	s, err := sentrytest.Start("bench", "board", fmt.Sprintf("sntrys_bench_%016x", rand.Uint64()))
	if err != nil {
		return err
	}
	b.sentry = s
	if err := errors.Join(os.Setenv("SENTRY_DSN", s.DSN()), os.Setenv(schemas.SentryTokenEnv, s.Token)); err != nil {
		return err
	}
	b.sentryA = sentry.New()
	return nil
}

// spec is the analysis both modes use: the error rate, bounded absolutely and against
// the baseline, as docs/analysis.md recommends.
func (b *bench) spec(provider string) schemas.Analysis {
	a := schemas.Analysis{
		Provider: provider, Interval: schemas.Duration(b.o.interval), FailureLimit: 1,
		Metrics: []schemas.Metric{{
			Name: "error-rate", Max: ptr(0.05), VsBaseline: 2, BaselineFloor: 0.01,
			MinSamples: 3, NoData: schemas.NoDataInconclusive,
			Query: `rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`,
		}},
	}
	if provider == schemas.AnalysisSentry {
		// The bad build's 500s reach Sentry as errors of a new issue and count against
		// its transactions: both measures docs/analysis.md recommends.
		a.Sentry = &schemas.Sentry{URL: b.sentry.URL(), Organization: b.sentry.Org, Project: b.sentry.Project}
		a.Step = schemas.Duration(time.Second) // Sentry's buckets: one sample per second
		a.Metrics[0].Query = schemas.SentryErrorsPerRequest
		a.Metrics = append(a.Metrics, schemas.Metric{Name: "new-issues", Query: schemas.SentryNewIssues, Max: ptr(0),
			MinSamples: 3, NoData: schemas.NoDataInconclusive})
	}
	if provider == schemas.AnalysisPrometheus {
		a.PrometheusURL = b.prom.URL
		// rate() needs two scrapes in each step's range.
		a.Step = schemas.Duration(2 * analysistest.ScrapeInterval)
		a.Metrics[0].MinSamples = 2
		a.Metrics[0].Query = `(sum(rate(http_requests_total{code=~"5..",instance=~"{{.Instances}}"}[{{.Window}}])) or vector(0))
  / sum(rate(http_requests_total{instance=~"{{.Instances}}"}[{{.Window}}]))`
	}
	return a
}

func ptr(v float64) *float64 { return &v }

// failAt picks the instant the canary starts failing: after warm checks passed, at a
// random phase of the check cycle.
func (b *bench) failAt(since time.Time, warm int) time.Time {
	phase := time.Duration(rand.Float64() * float64(b.o.interval))
	return since.Add(time.Duration(warm)*b.o.interval + phase)
}

// analysisRun checks a fresh bad canary every interval, as the soak does, and measures
// from the failure's start to the first Fail verdict.
func (b *bench) analysisRun(ctx context.Context, provider string, i int) (row, error) {
	r := row{mode: "analysis", provider: provider, run: i}
	if provider == schemas.AnalysisSentry {
		// Sentry knows releases, not instances, and every run's canary is release v2:
		// the previous run's errors must leave the window before this run's first check,
		// or they would be counted against this canary before it fails.
		select {
		case <-time.After(time.Until(b.lastCanaryGone.Add(b.o.interval))):
		case <-ctx.Done():
			return r, ctx.Err()
		}
	}
	canary, err := b.launchBad(ctx, fmt.Sprintf("%s-%d", provider, i))
	if err != nil {
		return r, err
	}
	defer func() {
		_ = b.world.Fleet().Terminate(context.Background(), analysistest.IDs(canary))
		b.lastCanaryGone = time.Now()
	}()
	all := append(append([]fleet.Instance{}, b.baseline...), canary...)
	load := analysistest.StartLoad(analysistest.Addresses(b.baseline), loadRate, analysistest.APIPath)
	defer load.Stop()
	cload := analysistest.StartLoad(analysistest.Addresses(canary), loadRate, analysistest.SmokePath)
	defer cload.Stop()
	if b.prom != nil {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := b.prom.WaitTargets(wctx, len(all))
		cancel()
		if err != nil {
			return r, err
		}
	}

	an := analysis.Analyzer(b.scrape)
	switch provider {
	case schemas.AnalysisPrometheus:
		an = b.promA
	case schemas.AnalysisSentry:
		an = b.sentryA
	}
	req := analysis.Request{Release: fmt.Sprintf("reaction/%s/%d", provider, i), Spec: b.spec(provider),
		Version: bad, BaselineVersion: good, Canary: canary, Baseline: b.baseline}

	start := time.Now()
	t0 := b.failAt(start, 3)
	failed := make(chan struct{})
	go func() {
		select {
		case <-time.After(time.Until(t0)):
			cload.SetPath(canary[0].Address, analysistest.APIPath)
			close(failed)
		case <-ctx.Done():
		}
	}()
	deadline := t0.Add(5 * b.o.interval)
	for {
		select { // the soak: one interval on a timer, then a check
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(b.o.interval):
		}
		res, err := an.Analyze(ctx, req)
		if err != nil {
			return r, err
		}
		now := time.Now()
		started := false
		select {
		case <-failed:
			started = true
		default:
		}
		switch {
		case !started && res.Verdict == analysis.Fail:
			r.falseAlarms++
		case !started:
			r.checksBefore++
		case res.Verdict == analysis.Fail:
			r.verdict, r.summary = now.Sub(t0), res.Summary
			return r, nil
		}
		if now.After(deadline) {
			return r, fmt.Errorf("no Fail verdict %s after the canary started failing; last check: %s %s", now.Sub(t0).Round(time.Second), res.Verdict, res.Summary)
		}
	}
}

// launchBad starts one instance of the bad build, healthy and attached.
func (b *bench) launchBad(ctx context.Context, key string) ([]fleet.Instance, error) {
	f := b.world.FleetWith(demoPath(b.o.dir, bad))
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: key, Version: bad, Count: 1})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.WaitHealthy(wctx, analysistest.IDs(ins)); err != nil {
		return nil, err
	}
	return b.world.Instances(ctx, analysistest.IDs(ins)...)
}

// startTemporal starts the pinned Temporal CLI's dev server and an in-process worker
// serving the local cloud.
func (b *bench) startTemporal(ctx context.Context) error {
	cli, err := testharness.TemporalCLI()
	if err != nil {
		return err
	}
	var extra []string
	for _, sa := range testharness.SearchAttributes {
		extra = append(extra, "--search-attribute", sa+"=Keyword")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	fmt.Println("starting a Temporal dev server and a worker...")
	b.temporal, err = testsuite.StartDevServer(sctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Namespace: client.DefaultNamespace, Logger: sdklog.NewStructuredLogger(quiet)},
		LogLevel:      "error",
		ExtraArgs:     extra,
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		return fmt.Errorf("starting the Temporal dev server: %w", err)
	}
	wctx, stop := context.WithCancel(context.Background())
	b.stopWorker, b.workerDone = stop, make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		b.workerDone <- workerapp.Run(wctx, workerapp.Options{
			Client: b.temporal.Client(), Providers: []string{schemas.ProviderLocal}, LocalEndpoint: b.world.API,
			Logger: quiet, StopTimeout: 5 * time.Second, OnReady: func(workerapp.Ready) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-b.workerDone:
		b.workerDone <- err
		return fmt.Errorf("worker: %w", err)
	case <-time.After(time.Minute):
		return errors.New("worker did not start within a minute")
	}
	return nil
}
