//go:build unix

package scrape_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/scrape"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/analysistest"
	"github.com/zerodown/zerodown/schemas"
)

var demoapp string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "scrape-test-")
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

// The demo service's own /metrics, real processes under real load: a canary with
// errors or with latency fails, a good one passes, each against the same baseline.
func TestAgainstTheDemoService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts demo service instances")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := analysistest.StartWorld(ctx, t.TempDir(), demoapp)
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
	idle, err := w.Launch(ctx, "idle", "v5", 1) // gets no traffic at all
	require.NoError(t, err)

	all := append(append(append(append([]fleet.Instance{}, baseline...), good...), errs...), slow...)
	load := analysistest.StartLoad(analysistest.Addresses(all), 20, analysistest.APIPath)
	t.Cleanup(load.Stop)

	spec := schemas.Analysis{
		Provider: schemas.AnalysisScrape,
		Interval: schemas.Duration(3 * time.Second),
		Step:     schemas.Duration(250 * time.Millisecond),
		Metrics: []schemas.Metric{
			{Name: "error-rate", Query: `rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`,
				Max: ptr(0.05), VsBaseline: 2, BaselineFloor: 0.01, MinSamples: 5, NoData: schemas.NoDataFail},
			{Name: "latency-p99", Query: `histogram_quantile(0.99, http_request_duration_seconds)`,
				Max: ptr(0.05), MinSamples: 5, NoData: schemas.NoDataFail,
				MannWhitney: &schemas.MannWhitney{Confidence: 0.95, EffectSize: 2, Direction: schemas.DirectionIncrease}},
		},
	}
	a := scrape.New()
	t.Cleanup(a.Close)
	check := func(canary []fleet.Instance) analysis.Result {
		t.Helper()
		res, err := a.Analyze(ctx, analysis.Request{Release: "release/board/test", Spec: spec, Version: canary[0].Version,
			BaselineVersion: "v1", Canary: canary, Baseline: baseline})
		require.NoError(t, err)
		t.Logf("%s: %s: %s", canary[0].Version, res.Verdict, res.Summary)
		return res
	}
	// Start every sampler, then judge full intervals.
	for _, c := range [][]fleet.Instance{good, errs, slow, idle} {
		check(c)
	}
	time.Sleep(spec.Interval.D())

	res := check(good)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.GreaterOrEqual(t, res.Metrics[0].CanarySamples, 10, res.Summary)
	require.Less(t, res.Metrics[1].Canary, 0.05, res.Summary)

	res = check(errs)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[0].Verdict, res.Summary)
	require.InDelta(t, 0.5, res.Metrics[0].Canary, 0.15, res.Summary)
	require.Contains(t, res.Summary, "error-rate: canary")

	res = check(slow)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Equal(t, analysis.Pass, res.Metrics[0].Verdict, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[1].Verdict, res.Summary)
	require.GreaterOrEqual(t, res.Metrics[1].Canary, 0.1, "100ms added to every request: %s", res.Summary)
	require.Contains(t, res.Summary, "significant at 0.95 and beyond effectSize 2")

	// A canary nobody sends traffic to has no error rate: with noData fail, it fails.
	res = check(idle)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "no data for the canary")
}
