package measure_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/bench/scale/measure"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// TestScaleSmall runs both parts of bench/scale small: a few concurrent releases, each
// on its own fleet, and a soak whose checks span several runs of the chain.
func TestScaleSmall(t *testing.T) {
	srv := testharness.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := measure.StartWorker(ctx, srv.Client)
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Stop()) }()

	a, err := measure.Concurrent(ctx, srv.Client, w, measure.ConcurrentConfig{
		Releases: 12, Soak: 2 * time.Second, Interval: time.Second, Starters: 4, Progress: t.Logf,
	})
	require.NoError(t, err)
	t.Log("\n" + a.Markdown())
	require.NoError(t, a.Check())
	require.Equal(t, map[string]int{string(workflows.PhaseSucceeded): 12}, a.Outcomes)
	require.Equal(t, 12*4, a.Launches, "every release launched exactly its plan: canary 1, then 2 and 1")
	require.Empty(t, a.FleetErrors)
	require.Greater(t, a.WorkerPeakRSS, int64(1<<20))
	require.Len(t, a.Latency, 4)
	for _, l := range a.Latency {
		require.Positive(t, l.Count, l.Name)
		require.LessOrEqual(t, l.P50, l.P99, l.Name)
	}

	b, err := measure.LongSoak(ctx, srv.Client, w, measure.SoakConfig{Checks: 5, ChecksPerRun: 2, Progress: t.Logf})
	require.NoError(t, err)
	t.Log("\n" + b.Markdown())
	require.NoError(t, b.Check())
	require.GreaterOrEqual(t, len(b.Runs), 2, "the soak continued as new")
	for _, run := range b.Runs[:len(b.Runs)-1] {
		require.Equal(t, 2, run.Checks, "a run stops at ChecksPerRun")
		require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, run.Ended)
	}
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, b.Runs[len(b.Runs)-1].Ended)
	require.Equal(t, 5, b.Checks(), "promoted after the last check")
}

// TestScaleTwoWorkers runs part (a) small with two workers on one task queue: every
// release ends right, and both workers did some of the work.
func TestScaleTwoWorkers(t *testing.T) {
	srv := testharness.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	second, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace})
	require.NoError(t, err)
	defer second.Close()
	w, err := measure.StartWorkers(ctx, []client.Client{srv.Client, second})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Stop()) }()
	require.Len(t, w.MetricsURLs, 2)

	a, err := measure.Concurrent(ctx, srv.Client, w, measure.ConcurrentConfig{
		Releases: 16, Soak: 2 * time.Second, Interval: time.Second, Starters: 4, Progress: t.Logf, Environment: "scale-2w",
	})
	require.NoError(t, err)
	t.Log("\n" + a.Markdown())
	require.NoError(t, a.Check())
	require.Equal(t, 2, a.Config.Workers)
	require.Contains(t, a.Markdown(), "2 in-process workers")
	for _, url := range w.MetricsURLs {
		require.Positive(t, activitiesDone(t, url), "worker %s ran no activity", url)
	}
	require.Contains(t, measure.SideBySide([]*measure.ConcurrentResult{a}), "| 2 | ")
}

// activitiesDone reads how many activities one worker ran from its /metrics.
func activitiesDone(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "temporal_activity_execution_latency_seconds_count"); ok {
			fields := strings.Fields(rest)
			v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
			require.NoError(t, err)
			total += v
		}
	}
	return total
}
