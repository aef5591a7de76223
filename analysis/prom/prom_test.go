package prom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/prom"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// fakeAPI answers Prometheus's query API from a function of the query, and records
// what it was asked: these tests are about what zerodown sends and how it reads the
// answers; prometheus_test.go runs a real server.
type fakeAPI struct {
	mu      sync.Mutex
	queries []asked
	answer  func(kind, query string) (status int, body string)
}

type asked struct{ kind, query, step string }

func newFakeAPI(t *testing.T, answer func(kind, query string) (int, string)) (*fakeAPI, string) {
	f := &fakeAPI{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		kind := strings.TrimPrefix(r.URL.Path, "/api/v1/")
		q := r.Form.Get("query")
		f.mu.Lock()
		f.queries = append(f.queries, asked{kind, q, r.Form.Get("step")})
		f.mu.Unlock()
		status, body := f.answer(kind, q)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func vector(values ...float64) string {
	var res []string
	for i, v := range values {
		res = append(res, fmt.Sprintf(`{"metric":{"i":"%d"},"value":[1700000000,"%g"]}`, i, v))
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(res, ",") + `]}}`
}

func matrix(values ...float64) string {
	var pts []string
	for i, v := range values {
		pts = append(pts, fmt.Sprintf(`[%d,"%g"]`, 1700000000+i, v))
	}
	return `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[` + strings.Join(pts, ",") + `]}]}}`
}

func ptr(v float64) *float64 { return &v }

func request(url string, metrics ...schemas.Metric) analysis.Request {
	return analysis.Request{
		Spec: schemas.Analysis{Provider: schemas.AnalysisPrometheus, PrometheusURL: url,
			Interval: schemas.Duration(time.Minute), Step: schemas.Duration(15 * time.Second), Metrics: metrics},
		Version: "v2", BaselineVersion: "v1",
		Canary:   []fleet.Instance{{ID: "i-c1", Address: "10.0.0.7:8080", Healthy: true}},
		Baseline: []fleet.Instance{{ID: "i-b1", Address: "10.0.0.5:8080", Healthy: true}, {ID: "i-b2", Address: "[::1]:8080", Healthy: true}},
	}
}

const errorRate = `sum(rate(http_requests_total{code=~"5..",instance=~"{{.Instances}}",version="{{.Version}}"}[{{.Window}}]))`

func TestQueriesAreRenderedPerSide(t *testing.T) {
	api, u := newFakeAPI(t, func(kind, q string) (int, string) {
		if kind == "query" {
			return 200, vector(0.01)
		}
		return 200, matrix(0.01, 0.01, 0.01, 0.01)
	})
	a := prom.New()
	fixed := time.Unix(1700000000, 0)
	a.Now = func() time.Time { return fixed }
	// Every template field (the fake does not parse PromQL, it only records it).
	m := schemas.Metric{Name: "errors", Query: errorRate + ` and on() vector({{printf "%q" .InstanceIDs}} != "")`, Max: ptr(1), MinSamples: 3, VsBaseline: 2}
	res, err := a.Analyze(context.Background(), request(u, m))
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.Equal(t, 4, res.Metrics[0].CanarySamples)

	require.Equal(t, []asked{
		{"query", `sum(rate(http_requests_total{code=~"5..",instance=~"10\\.0\\.0\\.7:8080",version="v2"}[1m])) and on() vector("i-c1" != "")`, ""},
		{"query_range", `sum(rate(http_requests_total{code=~"5..",instance=~"10\\.0\\.0\\.7:8080",version="v2"}[15s])) and on() vector("i-c1" != "")`, "15"},
		{"query", `sum(rate(http_requests_total{code=~"5..",instance=~"10\\.0\\.0\\.5:8080|\\[::1\\]:8080",version="v1"}[1m])) and on() vector("i-b1|i-b2" != "")`, ""},
		{"query_range", `sum(rate(http_requests_total{code=~"5..",instance=~"10\\.0\\.0\\.5:8080|\\[::1\\]:8080",version="v1"}[15s])) and on() vector("i-b1|i-b2" != "")`, "15"},
	}, api.queries)
}

func TestValuesAndVerdicts(t *testing.T) {
	canary, baseline := 0.2, 0.01
	_, u := newFakeAPI(t, func(kind, q string) (int, string) {
		v := baseline
		if strings.Contains(q, `version="v2"`) {
			v = canary
		}
		if kind == "query" {
			return 200, vector(v, v) // two series: their mean is the value
		}
		return 200, matrix(v, v, v, v)
	})
	a := prom.New()
	m := schemas.Metric{Name: "errors", Query: errorRate, Max: ptr(0.05), VsBaseline: 2, MinSamples: 3, NoData: schemas.NoDataFail}
	res, err := a.Analyze(context.Background(), request(u, m))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict)
	require.Equal(t, "errors: canary 0.2 > max 0.05, canary 0.2 > 2 x baseline 0.01 = 0.02 (baseline 0.01, 4 vs 4 samples)", res.Summary)

	canary = 0.015
	res, err = a.Analyze(context.Background(), request(u, m))
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
}

func TestNoDataAndOutages(t *testing.T) {
	m := schemas.Metric{Name: "errors", Query: errorRate, Max: ptr(0.05), MinSamples: 3}
	for _, tc := range []struct {
		name         string
		status       int
		value, rng   string
		policy, want string
		reason       string
	}{
		{"empty answer, fail", 200, vector(), matrix(), schemas.NoDataFail, analysis.Fail, "no data for the canary (no series for sum(rate("},
		{"empty answer, inconclusive", 200, vector(), matrix(), schemas.NoDataInconclusive, analysis.Inconclusive, "no data for the canary"},
		{"empty answer, pass", 200, vector(), matrix(), schemas.NoDataPass, analysis.Pass, "noData is pass"},
		{"NaN (0/0, no traffic)", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, matrix(), schemas.NoDataFail, analysis.Fail, "no data for the canary"},
		{"value but no range points", 200, vector(0.01), matrix(), schemas.NoDataFail, analysis.Inconclusive, "is step at least twice Prometheus's scrape_interval?"},
		{"prometheus down", 503, `{"status":"error","errorType":"unavailable","error":"overloaded"}`, "", schemas.NoDataFail, analysis.Inconclusive, "measurement failed: prometheus:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, u := newFakeAPI(t, func(kind, q string) (int, string) {
				if kind == "query" {
					return tc.status, tc.value
				}
				return tc.status, tc.rng
			})
			m.NoData = tc.policy
			res, err := prom.New().Analyze(context.Background(), request(u, m))
			require.NoError(t, err)
			require.Equal(t, tc.want, res.Verdict, res.Summary)
			require.Contains(t, res.Summary, tc.reason)
		})
	}

	// Nothing listening at all: inconclusive, the next check tries again.
	m.NoData = schemas.NoDataFail
	res, err := prom.New().Analyze(context.Background(), request("http://127.0.0.1:1", m))
	require.NoError(t, err)
	require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "connection refused")
}

func TestQueriesThatCanNeverWork(t *testing.T) {
	_, u := newFakeAPI(t, func(kind, q string) (int, string) {
		if strings.Contains(q, "[1m]") && kind == "query" && strings.HasPrefix(q, "http_requests_total") {
			return 200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`
		}
		return 400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected <by>"}`
	})
	for query, want := range map[string]string{
		`sum by(`:                          "parse error: unexpected <by>",
		`http_requests_total[{{.Window}}]`: "returns a matrix, not one value",
		`x{version="{{.Vesion}}"}`:         "{{.Version}}, {{.Instances}}, {{.InstanceIDs}} and {{.Window}}",
		`x{version="{{.Version}"}`:         "bad character",
	} {
		_, err := prom.New().Analyze(context.Background(), request(u, schemas.Metric{Name: "m", Query: query, Max: ptr(1)}))
		require.ErrorIs(t, err, analysis.ErrInvalidQuery, query)
		require.ErrorIs(t, err, fleet.ErrInvalidConfig, "never retried: %s", query)
		require.Contains(t, err.Error(), want, query)
	}
	req := request(u, schemas.Metric{Name: "m", Query: "up", Max: ptr(1)})
	req.Spec.PrometheusURL = ""
	_, err := prom.New().Analyze(context.Background(), req)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
}

// Result values travel as JSON through Temporal.
func TestResultIsJSON(t *testing.T) {
	_, u := newFakeAPI(t, func(kind, q string) (int, string) { return 200, vector() })
	res, err := prom.New().Analyze(context.Background(), request(u, schemas.Metric{Name: "m", Query: "up", Max: ptr(1), VsBaseline: 2}))
	require.NoError(t, err)
	_, err = json.Marshal(res)
	require.NoError(t, err)
}
