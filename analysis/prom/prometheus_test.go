//go:build unix

package prom_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/prom"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/analysistest"
	"github.com/zerodown/zerodown/schemas"
)

var demoapp string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "prom-test-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			if demoapp, err = analysistest.BuildDemoapp(dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// The queries a user would write for the demo service. The error rate needs
// "or vector(0)": a service that never answered 5xx has no 5xx series, and without it
// a perfect canary would have no data instead of an error rate of 0.
const (
	errorRateQuery = `(sum(rate(http_requests_total{code=~"5..",instance=~"{{.Instances}}"}[{{.Window}}])) or vector(0))
  / sum(rate(http_requests_total{instance=~"{{.Instances}}"}[{{.Window}}]))`
	latencyQuery = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="{{.Version}}"}[{{.Window}}])))`
)

// A real Prometheus, discovering the local cloud's instances through its targets.json
// and scraping the demo service every second: a canary with errors or latency fails,
// a good one passes, and a metric without data follows its noData policy.
func TestWithARealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus and demo service instances")
	}
	bin, err := analysistest.PrometheusBinary()
	require.NoError(t, err, "the prometheus integration test needs a Prometheus server") // fail, never skip: CI installs it

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	w, err := analysistest.StartWorld(ctx, dir, demoapp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Stop()) })

	baseline, err := w.Launch(ctx, "baseline", "v1", 2)
	require.NoError(t, err)
	good, err := w.Launch(ctx, "good", "v2", 1)
	require.NoError(t, err)
	errs, err := w.Launch(ctx, "errors", "v3", 1, "--error-rate", "0.5")
	require.NoError(t, err)
	slow, err := w.Launch(ctx, "slow", "v4", 1, "--latency", "100ms")
	require.NoError(t, err)
	all := append(append(append(append([]fleet.Instance{}, baseline...), good...), errs...), slow...)
	load := analysistest.StartLoad(analysistest.Addresses(all), 20, analysistest.APIPath)
	t.Cleanup(load.Stop)

	pdir := filepath.Join(dir, "prometheus")
	require.NoError(t, os.MkdirAll(pdir, 0o755))
	p, err := analysistest.StartPrometheus(ctx, bin, w.TargetsFile(), pdir)
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.Log())
		}
	})
	require.NoError(t, p.WaitTargets(ctx, len(all)))

	interval := 6 * time.Second
	spec := schemas.Analysis{
		Provider: schemas.AnalysisPrometheus, PrometheusURL: p.URL,
		Interval: schemas.Duration(interval),
		Step:     schemas.Duration(2 * analysistest.ScrapeInterval), // rate() needs two scrapes per step
		Metrics: []schemas.Metric{
			{Name: "error-rate", Query: errorRateQuery, Max: ptr(0.05), VsBaseline: 2, BaselineFloor: 0.01, MinSamples: 2, NoData: schemas.NoDataFail},
			// 90 ms: between a good canary's p99 on a loaded 2-core machine (up to 75 ms seen,
			// interpolated in the 50-100 ms bucket) and the slow one's 100 ms added.
			{Name: "latency-p99", Query: latencyQuery, Max: ptr(0.09), MinSamples: 2, NoData: schemas.NoDataFail,
				MannWhitney: &schemas.MannWhitney{Confidence: 0.9, EffectSize: 2, Direction: schemas.DirectionIncrease}},
		},
	}
	// Let Prometheus gather a whole interval of every instance's traffic.
	time.Sleep(interval + 2*analysistest.ScrapeInterval)

	a := prom.New()
	check := func(spec schemas.Analysis, canary []fleet.Instance) analysis.Result {
		t.Helper()
		res, err := a.Analyze(ctx, analysis.Request{Spec: spec, Version: canary[0].Version, BaselineVersion: "v1", Canary: canary, Baseline: baseline})
		require.NoError(t, err)
		t.Logf("%s: %s: %s", canary[0].Version, res.Verdict, res.Summary)
		return res
	}

	res := check(spec, good)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.GreaterOrEqual(t, res.Metrics[0].CanarySamples, 2)

	res = check(spec, errs)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[0].Verdict)
	require.InDelta(t, 0.5, res.Metrics[0].Canary, 0.2, res.Summary)

	res = check(spec, slow)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Equal(t, analysis.Pass, res.Metrics[0].Verdict, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[1].Verdict, res.Summary)
	require.GreaterOrEqual(t, res.Metrics[1].Canary, 0.1, res.Summary)

	// A metric Prometheus has no series for: each noData policy, on the real answer.
	for policy, want := range map[string]string{
		schemas.NoDataFail:         analysis.Fail,
		schemas.NoDataInconclusive: analysis.Inconclusive,
		schemas.NoDataPass:         analysis.Pass,
	} {
		missing := spec
		missing.Metrics = []schemas.Metric{{Name: "sessions", Query: `sum(rate(board_sessions_total{instance=~"{{.Instances}}"}[{{.Window}}]))`,
			Max: ptr(100), VsBaseline: 2, MinSamples: 2, NoData: policy}}
		res := check(missing, good)
		require.Equal(t, want, res.Verdict, "noData %s: %s", policy, res.Summary)
		require.Contains(t, res.Summary, "no data for the canary (no series for sum(rate(board_sessions_total")
	}
}
