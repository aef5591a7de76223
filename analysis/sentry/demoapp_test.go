//go:build unix

package sentry_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/sentry"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/analysistest"
	"github.com/zerodown/zerodown/internal/sentrytest"
	"github.com/zerodown/zerodown/schemas"
)

var demoapp string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "sentry-test-")
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

// Demo service processes report through the real sentry-go SDK to the stand-in for
// Sentry; the provider asks the stand-in's web API: a canary whose requests fail half
// the time with an error its release introduced fails, a good one passes, each
// against the same baseline.
func TestDemoServiceReportingThroughSentryGo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts demo service instances")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := sentrytest.Start("acme", "board", token)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	w, err := analysistest.StartWorld(ctx, t.TempDir(), demoapp)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Stop()) })

	dsn := []string{"--sentry-dsn", s.DSN(), "--sentry-environment", "prod"}
	baseline, err := w.Launch(ctx, "baseline", "v1", 2, dsn...)
	require.NoError(t, err)
	bad, err := w.Launch(ctx, "bad", "v2", 1, append([]string{"--error-rate", "0.5"}, dsn...)...)
	require.NoError(t, err)
	good, err := w.Launch(ctx, "good", "v3", 1, dsn...)
	require.NoError(t, err)

	all := append(append(append([]fleet.Instance{}, baseline...), bad...), good...)
	load := analysistest.StartLoad(analysistest.Addresses(all), 20, analysistest.APIPath)
	t.Cleanup(load.Stop)

	sp := spec(s.URL(),
		schemas.Metric{Name: "new-issues", Query: schemas.SentryNewIssues, Max: ptr(0), MinSamples: 3, NoData: schemas.NoDataFail},
		schemas.Metric{Name: "errors-per-request", Query: schemas.SentryErrorsPerRequest, Max: ptr(0.05), VsBaseline: 2,
			BaselineFloor: 0.01, MinSamples: 3, NoData: schemas.NoDataFail})
	sp.Interval, sp.Step = schemas.Duration(4*time.Second), schemas.Duration(time.Second)
	sp.Sentry.Environment = "prod"
	a := sentry.New()
	a.Getenv = func(string) string { return token }
	analyze := func(canary []fleet.Instance) (analysis.Result, error) {
		res, err := a.Analyze(ctx, analysis.Request{Spec: sp, Version: canary[0].Version, BaselineVersion: "v1", Canary: canary, Baseline: baseline})
		t.Logf("%s: %s: %s", canary[0].Version, res.Verdict, res.Summary)
		return res, err
	}
	check := func(canary []fleet.Instance) analysis.Result {
		t.Helper()
		res, err := analyze(canary)
		require.NoError(t, err)
		return res
	}

	// Wait until Sentry has heard from every release for a whole interval: the first
	// checks of a canary are inconclusive, as they are in a release.
	heard := func(canary []fleet.Instance) bool {
		res, err := analyze(canary)
		return err == nil && len(res.Metrics) == 2 && res.Metrics[1].CanarySamples >= 4
	}
	require.Eventually(t, func() bool { return heard(good) && heard(bad) }, time.Minute, 500*time.Millisecond)

	res := check(bad)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[0].Verdict, "v2 introduced the injected fault's issue: %s", res.Summary)
	require.Equal(t, 1.0, res.Metrics[0].Canary, res.Summary)
	require.Equal(t, analysis.Fail, res.Metrics[1].Verdict, res.Summary)
	require.InDelta(t, 0.5, res.Metrics[1].Canary, 0.2, res.Summary)

	res = check(good)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.Equal(t, 0.0, res.Metrics[1].Canary, res.Summary)

	issues := s.Issues()
	require.Len(t, issues, 1, "%+v", issues)
	require.Equal(t, "v2", issues[0].FirstRelease)
	require.Contains(t, issues[0].Title, "500 Internal Server Error: injected fault")
}
