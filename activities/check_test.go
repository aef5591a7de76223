package activities_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Check runs the scrape provider on instances it finds by id, and a query that can
// never work is a non-retryable configuration error.
func TestCheckWithTheScrapeProvider(t *testing.T) {
	env, f, _ := setup(t)
	var mu sync.Mutex
	var served float64 // requests, growing at each scrape
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served += 10
		n := served
		mu.Unlock()
		fmt.Fprintf(w, "http_requests_total{code=\"200\"} %g\n", n)
	}))
	t.Cleanup(srv.Close)
	f.SetAddress(func(string) string { return strings.TrimPrefix(srv.URL, "http://") })

	ctx := context.Background()
	canary, err := f.Launch(ctx, fleet.LaunchRequest{Key: "c", Version: "v2", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctx, []string{canary[0].ID}))

	in := activities.CheckInput{
		Target: target, Version: "v2", BaselineVersion: "v1", CanaryIDs: []string{canary[0].ID},
		Analysis: schemas.Analysis{Provider: schemas.AnalysisScrape, Interval: schemas.Duration(time.Second), Step: schemas.Duration(100 * time.Millisecond),
			Metrics: []schemas.Metric{{Name: "rps", Query: "rate(http_requests_total)", Min: new(float64), MinSamples: 2, NoData: schemas.NoDataFail}}},
	}
	val, err := env.ExecuteActivity((&activities.Activities{}).Check, in)
	require.NoError(t, err)
	var out activities.CheckOutput
	require.NoError(t, val.Get(&out))
	require.Equal(t, analysis.Pass, out.Result.Verdict, out.Result.Summary)
	require.False(t, out.Result.Time.IsZero())

	in.Analysis.Metrics[0].Query = "sum(rate(http_requests_total))"
	_, err = env.ExecuteActivity((&activities.Activities{}).Check, in)
	require.Error(t, err)
	require.Equal(t, activities.ErrTypeInvalidConfig, nonRetryableType(err), "%v", err)
}
