package scrape_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/scrape"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// fakeInstance serves a /metrics page whose request counters grow by perScrape at
// every scrape, errorRate of them answered 500: traffic between two scrapes.
type fakeInstance struct {
	srv       *httptest.Server
	mu        sync.Mutex
	perScrape float64
	errorRate float64
	ok, fail  float64
	scrapes   int
}

func newInstance(t *testing.T, perScrape, errorRate float64) *fakeInstance {
	f := &fakeInstance{perScrape: perScrape, errorRate: errorRate}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.scrapes++
		f.fail += f.perScrape * f.errorRate
		f.ok += f.perScrape * (1 - f.errorRate)
		ok, fail := f.ok, f.fail
		f.mu.Unlock()
		fmt.Fprintf(w, "# TYPE http_requests_total counter\n")
		fmt.Fprintf(w, "http_requests_total{code=\"200\",method=\"GET\"} %g\n", ok)
		fmt.Fprintf(w, "http_requests_total{code=\"500\",method=\"GET\"} %g\n", fail)
		fmt.Fprintf(w, "# TYPE websocket_connections gauge\nwebsocket_connections 3\n")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInstance) instance(id string) fleet.Instance {
	return fleet.Instance{ID: id, Address: f.srv.Listener.Addr().String(), Healthy: true, Attached: true}
}

func (f *fakeInstance) scraped() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scrapes
}

func ptr(v float64) *float64 { return &v }

func errorRate(mut func(*schemas.Metric)) schemas.Metric {
	m := schemas.Metric{
		Name:       "error-rate",
		Query:      `rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`,
		Max:        ptr(0.05),
		VsBaseline: 2,
		MinSamples: 3,
		NoData:     schemas.NoDataInconclusive,
	}
	if mut != nil {
		mut(&m)
	}
	return m
}

func request(canary, baseline []fleet.Instance, metrics ...schemas.Metric) analysis.Request {
	return analysis.Request{
		Release: "release/board/test",
		Spec: schemas.Analysis{
			Provider: schemas.AnalysisScrape,
			Interval: schemas.Duration(time.Second),
			Step:     schemas.Duration(100 * time.Millisecond),
			Metrics:  metrics,
		},
		Version: "v2", BaselineVersion: "v1",
		Canary: canary, Baseline: baseline,
	}
}

func newAnalyzer(t *testing.T) *scrape.Analyzer {
	a := scrape.New()
	t.Cleanup(a.Close)
	return a
}

func TestBadCanaryFailsGoodCanaryPasses(t *testing.T) {
	a := newAnalyzer(t)
	base := []fleet.Instance{newInstance(t, 10, 0.01).instance("b1"), newInstance(t, 10, 0).instance("b2")}
	good := newInstance(t, 10, 0.008).instance("good")
	bad := newInstance(t, 10, 0.5).instance("bad")
	ctx := context.Background()

	// The first check sees the instances for the first time: it waits for samples
	// rather than judging on nothing.
	res, err := a.Analyze(ctx, request([]fleet.Instance{bad}, base, errorRate(nil)))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "error-rate: canary 0.5 > max 0.05")
	require.GreaterOrEqual(t, res.Metrics[0].CanarySamples, 3)

	res, err = a.Analyze(ctx, request([]fleet.Instance{good}, base, errorRate(nil)))
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.InDelta(t, 0.008, res.Metrics[0].Canary, 1e-9)
	require.InDelta(t, 0.005, res.Metrics[0].Baseline, 1e-9, "pooled over the baseline's instances")

	// A later check judges a full interval of samples, one per step.
	time.Sleep(time.Second)
	res, err = a.Analyze(ctx, request([]fleet.Instance{bad}, base, errorRate(func(m *schemas.Metric) {
		m.Max = nil
		m.MannWhitney = &schemas.MannWhitney{Confidence: 0.95, EffectSize: 1.1, Direction: schemas.DirectionIncrease}
		m.VsBaseline = 0
	})))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.GreaterOrEqual(t, res.Metrics[0].CanarySamples, 7, "about interval/step samples: %s", res.Summary)
	require.Contains(t, res.Summary, "mann-whitney greater")
}

func TestNoDataPolicyWithoutTraffic(t *testing.T) {
	a := newAnalyzer(t)
	base := []fleet.Instance{newInstance(t, 10, 0).instance("b1")}
	idle := newInstance(t, 0, 0).instance("idle") // up, but serving nobody
	for policy, want := range map[string]string{
		schemas.NoDataFail:         analysis.Fail,
		schemas.NoDataInconclusive: analysis.Inconclusive,
		schemas.NoDataPass:         analysis.Pass,
	} {
		res, err := a.Analyze(context.Background(), request([]fleet.Instance{idle}, base, errorRate(func(m *schemas.Metric) { m.NoData = policy })))
		require.NoError(t, err)
		require.Equal(t, want, res.Verdict, "%s: %s", policy, res.Summary)
		require.Contains(t, res.Summary, "no data for the canary (the query has no value in this window: no traffic?)")
	}
}

func TestUnreachableAndMisspelt(t *testing.T) {
	a := newAnalyzer(t)
	a.FirstSightWait = 300 * time.Millisecond
	base := []fleet.Instance{newInstance(t, 10, 0).instance("b1")}
	gone := newInstance(t, 10, 0)
	canary := gone.instance("gone")
	gone.srv.Close()

	res, err := a.Analyze(context.Background(), request([]fleet.Instance{canary}, base, errorRate(nil)))
	require.NoError(t, err)
	require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "scraping "+canary.Address+" failed")

	up := newInstance(t, 10, 0).instance("up")
	res, err = a.Analyze(context.Background(), request([]fleet.Instance{up}, base, errorRate(func(m *schemas.Metric) {
		m.Query = `rate(http_request_total{code=~"5.."}) / rate(http_request_total)`
	})))
	require.NoError(t, err)
	require.Equal(t, analysis.Inconclusive, res.Verdict)
	require.Contains(t, res.Summary, "has no series named http_request_total")
}

func TestInvalidQueryFailsTheCheck(t *testing.T) {
	a := newAnalyzer(t)
	c := newInstance(t, 10, 0).instance("c")
	_, err := a.Analyze(context.Background(), request([]fleet.Instance{c}, nil, errorRate(func(m *schemas.Metric) {
		m.Query = `sum(rate(http_requests_total[1m]))`
	})))
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "a query that can never work is not retried")
	require.Zero(t, a.Sampling(), "nothing sampled for a query that cannot run")

	_, err = a.Analyze(context.Background(), request([]fleet.Instance{c}, nil, errorRate(func(m *schemas.Metric) {
		m.Query = `rate(http_requests_total{instance="{{.Instances}}"})`
	})))
	require.ErrorIs(t, err, analysis.ErrInvalidQuery)
	require.Contains(t, err.Error(), "{{.Version}} only")
}

func TestUnhealthyOrMissingCanaryFails(t *testing.T) {
	a := newAnalyzer(t)
	c := newInstance(t, 10, 0).instance("c")
	c.Healthy = false
	res, err := a.Analyze(context.Background(), request([]fleet.Instance{c}, nil, errorRate(nil)))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict)
	require.Contains(t, res.Summary, "unhealthy")
	res, err = a.Analyze(context.Background(), request(nil, nil, errorRate(nil)))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict)
}

// Samplers live between checks (that is how rates exist at all) and stop on their own
// once no check wants their instance; Close stops the rest.
func TestSamplersKeepStateAndStop(t *testing.T) {
	a := newAnalyzer(t)
	a.IdleGrace = 0
	inst := newInstance(t, 10, 0)
	req := request([]fleet.Instance{inst.instance("c")}, nil, errorRate(func(m *schemas.Metric) { m.VsBaseline = 0 }))
	req.Spec.Interval = schemas.Duration(200 * time.Millisecond)
	req.Spec.Step = schemas.Duration(20 * time.Millisecond)

	_, err := a.Analyze(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, 1, a.Sampling())
	// Another release checking the same instance gets its own sampler and state.
	other := req
	other.Release = "release/board/other"
	_, err = a.Analyze(context.Background(), other)
	require.NoError(t, err)
	require.Equal(t, 2, a.Sampling())

	// Two intervals without a check: the samplers stop and scraping ends.
	require.Eventually(t, func() bool { return a.Sampling() == 0 }, 5*time.Second, 20*time.Millisecond)
	n := inst.scraped()
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, n, inst.scraped())

	_, err = a.Analyze(context.Background(), req)
	require.NoError(t, err)
	a.Close()
	require.Zero(t, a.Sampling())
	_, err = a.Analyze(context.Background(), req)
	require.ErrorIs(t, err, scrape.ErrClosed)
}

// A worker restart loses the samplers' memory: the first check after it waits for
// fresh samples, and with too few of them it is Inconclusive, never a guess.
func TestFirstSightWaitIsBounded(t *testing.T) {
	a := newAnalyzer(t)
	a.FirstSightWait = 250 * time.Millisecond
	inst := newInstance(t, 10, 0.5)
	req := request([]fleet.Instance{inst.instance("c")}, nil, errorRate(func(m *schemas.Metric) { m.VsBaseline = 0; m.MinSamples = 50 }))
	start := time.Now()
	res, err := a.Analyze(context.Background(), req)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "minSamples is 50")
}

func TestGauge(t *testing.T) {
	a := newAnalyzer(t)
	inst := newInstance(t, 10, 0)
	m := schemas.Metric{Name: "ws", Query: "websocket_connections", Min: ptr(1), MinSamples: 3, NoData: schemas.NoDataFail}
	res, err := a.Analyze(context.Background(), request([]fleet.Instance{inst.instance("c")}, nil, m))
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.Equal(t, 3.0, res.Metrics[0].Canary)
}
