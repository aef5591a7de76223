package expr_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis/scrape/expr"
)

func s(name string, v float64, labels ...string) expr.Series {
	l := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return expr.Series{Name: name, Labels: l, Value: v}
}

// requests is a /metrics page of the demo service after some traffic.
func requests(ok, failed, notFound float64) []expr.Series {
	return []expr.Series{
		s("http_requests_total", ok, "code", "200", "method", "GET", "version", "v1"),
		s("http_requests_total", failed, "code", "500", "method", "GET", "version", "v1"),
		s("http_requests_total", notFound, "code", "404", "method", "GET", "version", "v1"),
	}
}

func span(instance string, before, after []expr.Series, seconds float64) *expr.Span {
	sp := &expr.Span{}
	sp.Add(instance, before, after, seconds)
	return sp
}

func TestErrorRate(t *testing.T) {
	e := expr.MustParse(`rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`)
	require.Equal(t, []string{"http_requests_total"}, e.Names())

	sp := span("a", requests(100, 0, 0), requests(190, 10, 0), 2)
	require.InDelta(t, 0.1, e.Eval(sp), 1e-12)

	// Pooled over two instances: errors over requests, whatever each one's traffic.
	sp.Add("b", requests(0, 0, 0), requests(50, 50, 0), 2)
	require.InDelta(t, 60.0/200, e.Eval(sp), 1e-12)

	// No traffic: no value, never an error rate of 0.
	require.True(t, math.IsNaN(e.Eval(span("a", requests(5, 1, 0), requests(5, 1, 0), 1))))
	require.True(t, math.IsNaN(e.Eval(&expr.Span{})))
}

func TestRatesAndCounters(t *testing.T) {
	before, after := requests(100, 2, 1), requests(160, 4, 1)
	for _, tc := range []struct {
		q    string
		want float64
	}{
		{`rate(http_requests_total)`, 31},                 // (60+2+0)/2s
		{`increase(http_requests_total{code!="200"})`, 2}, // 404 and 500 series
		{`rate(http_requests_total{code="200",method="GET"})`, 30},
		{`rate(http_requests_total{code!~"2..|4.."})`, 1},
		{`1 - rate(http_requests_total{code=~'2..'}) / rate(http_requests_total)`, 2.0 / 62},
		{`-rate(http_requests_total{code="500"}) * 2 + 10`, 8},
		{`(rate(http_requests_total) + 1) / 2`, 16},
		{`rate(http_requests_total{version="v1",})`, 31}, // a trailing comma, as PromQL allows
		{"rate(http_requests_total{code=`500`})", 1},
	} {
		got := expr.MustParse(tc.q).Eval(span("a", before, after, 2))
		require.InDelta(t, tc.want, got, 1e-12, tc.q)
	}

	// A counter that went down was reset (the process restarted): the new value is the increase.
	got := expr.MustParse(`increase(http_requests_total{code="200"})`).Eval(span("a", requests(500, 0, 0), requests(20, 0, 0), 1))
	require.Equal(t, 20.0, got)
	// A series that appears between two scrapes (the first 500) counts from 0.
	got = expr.MustParse(`increase(http_requests_total{code="500"})`).Eval(span("a", requests(500, 0, 0)[:1], requests(510, 3, 0), 1))
	require.Equal(t, 3.0, got)
	// No series with these labels yet (no 503 ever answered) is a rate of 0: client
	// libraries create a series on its first event.
	require.Equal(t, 0.0, expr.MustParse(`rate(http_requests_total{code="503"})`).Eval(span("a", before, after, 1)))
	require.Equal(t, 0.0, expr.MustParse(`rate(http_requests_total{code=~"5.."}) / rate(http_requests_total)`).Eval(span("a", requests(10, 0, 0)[:1], requests(20, 0, 0)[:1], 1)))
	// No series of that name at all is no data: a misspelt metric must not read as 0.
	require.True(t, math.IsNaN(expr.MustParse(`rate(http_request_total)`).Eval(span("a", before, after, 1))))

	// increase is per instance, so a canary of one compares with a baseline of many.
	sp := span("a", requests(0, 0, 0), requests(10, 0, 0), 1)
	sp.Add("b", requests(0, 0, 0), requests(30, 0, 0), 1)
	require.Equal(t, 20.0, expr.MustParse(`increase(http_requests_total)`).Eval(sp))
	require.Equal(t, 20.0, expr.MustParse(`rate(http_requests_total)`).Eval(sp))
}

func TestGauge(t *testing.T) {
	ws := func(v float64) []expr.Series { return []expr.Series{s("websocket_connections", v, "version", "v1")} }
	sp := span("a", ws(1), ws(4), 1)
	sp.Add("a", ws(4), ws(6), 1)
	sp.Add("b", ws(0), ws(2), 1)
	require.Equal(t, 4.0, expr.MustParse(`websocket_connections`).Eval(sp), "mean over instances and time")
}

func histogram(counts map[string]float64) []expr.Series {
	var out []expr.Series
	for le, c := range counts {
		out = append(out, s("http_request_duration_seconds_bucket", c, "le", le, "version", "v1"))
	}
	return out
}

// The expected quantiles follow Prometheus's histogram_quantile: linear interpolation
// inside the bucket holding the rank.
func TestHistogramQuantile(t *testing.T) {
	before := histogram(map[string]float64{"0.005": 0, "0.01": 0, "0.025": 0, "0.05": 0, "+Inf": 0})
	after := histogram(map[string]float64{"0.005": 50, "0.01": 90, "0.025": 98, "0.05": 100, "+Inf": 100})
	sp := span("a", before, after, 1)

	// Rank 50 of 100 is the top of the first bucket.
	require.InDelta(t, 0.005, expr.MustParse(`histogram_quantile(0.5, http_request_duration_seconds)`).Eval(sp), 1e-12)
	// Rank 95: 5 of the 8 observations of (0.01, 0.025].
	require.InDelta(t, 0.01+0.015*5/8, expr.MustParse(`histogram_quantile(0.95, http_request_duration_seconds_bucket)`).Eval(sp), 1e-12)
	// Rank 99: half of (0.025, 0.05].
	require.InDelta(t, 0.0375, expr.MustParse(`histogram_quantile(0.99, http_request_duration_seconds{version="v1"})`).Eval(sp), 1e-12)

	// Observations beyond the last finite bucket: its bound is the answer.
	slow := histogram(map[string]float64{"0.005": 0, "0.01": 0, "0.025": 0, "0.05": 0, "+Inf": 10})
	require.Equal(t, 0.05, expr.MustParse(`histogram_quantile(0.99, http_request_duration_seconds)`).Eval(span("a", before, slow, 1)))
	// No observation in the span: no data.
	require.True(t, math.IsNaN(expr.MustParse(`histogram_quantile(0.99, http_request_duration_seconds)`).Eval(span("a", after, after, 1))))
	require.Equal(t, []string{"http_request_duration_seconds_bucket"}, expr.MustParse(`histogram_quantile(0.99, http_request_duration_seconds)`).Names())
}

// Mistakes a PromQL user is likely to make get an answer in the language's own words.
func TestParseErrors(t *testing.T) {
	for q, want := range map[string]string{
		`sum(rate(http_requests_total))`:         "sum(...) is PromQL; scrape queries sum the series a selector matches already",
		`rate(http_requests_total[1m])`:          "scrape queries take no range",
		`rat(http_requests_total)`:               "unknown function rat",
		`rate(http_requests_total{code=~"5.("})`: "bad regular expression for code",
		`rate(http_requests_total{code=5})`:      "expected a quoted value for code",
		`rate(http_requests_total{code~"5"})`:    "at 30: unexpected '~'",
		`rate(http_requests_total{code "5"})`:    "expected =, !=, =~ or !~ after code",
		`histogram_quantile(1.5, x)`:             "between 0 and 1",
		`histogram_quantile(x, 0.5)`:             "takes a number between 0 and 1 first",
		`rate(http_requests_total`:               `expected ")", found end of query`,
		`rate(http_requests_total{code="5"`:      `expected "}", found end of query`,
		`http_requests_total{code="500"} 2`:      `at 33: unexpected "2"`,
		`rate(http_requests_total{code="5)`:      "string not closed",
		`1.2.3`:                                  "is not a number",
		``:                                       "expected a number, a metric or a function, found end of query",
		`rate(2)`:                                "rate takes a metric selector",
		`http_requests_total # a comment`:        `unexpected '#'`,
	} {
		_, err := expr.Parse(q)
		require.Error(t, err, q)
		require.Contains(t, err.Error(), want, q)
	}
}
