package scrape

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zerodown/zerodown/analysis/scrape/expr"
)

// maxPage bounds a /metrics page: a broken instance must not exhaust the worker.
const maxPage = 16 << 20

// fetch reads one /metrics page in the text format. It returns the series whose names
// are in keep (histograms and summaries expanded as Prometheus exposes them), so a
// sampler holds only what its queries read, and every series name the page has, to tell
// a user about a misspelt metric.
func fetch(ctx context.Context, client *http.Client, url string, keep map[string]bool) ([]expr.Series, map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	// Ask for the plain text format (not protobuf or OpenMetrics): the one parser here.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	var out []expr.Series
	seen := map[string]bool{}
	for name, fam := range families {
		for _, s := range expand(name, fam) {
			seen[s.Name] = true
			if keep[s.Name] {
				out = append(out, s)
			}
		}
	}
	return out, seen, nil
}

// expand turns a metric family into the flat series PromQL sees.
func expand(name string, fam *dto.MetricFamily) []expr.Series {
	var out []expr.Series
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		with := func(k, v string) map[string]string {
			l := make(map[string]string, len(labels)+1)
			for a, b := range labels {
				l[a] = b
			}
			l[k] = v
			return l
		}
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			out = append(out, expr.Series{Name: name, Labels: labels, Value: m.GetCounter().GetValue()})
		case dto.MetricType_GAUGE:
			out = append(out, expr.Series{Name: name, Labels: labels, Value: m.GetGauge().GetValue()})
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			inf := false
			for _, b := range h.GetBucket() {
				le := b.GetUpperBound()
				inf = inf || math.IsInf(le, 1)
				out = append(out, expr.Series{Name: name + "_bucket", Labels: with("le", formatLE(le)), Value: float64(b.GetCumulativeCount())})
			}
			if !inf { // the text format always has +Inf; be safe with hand-written pages
				out = append(out, expr.Series{Name: name + "_bucket", Labels: with("le", "+Inf"), Value: float64(h.GetSampleCount())})
			}
			out = append(out,
				expr.Series{Name: name + "_sum", Labels: labels, Value: h.GetSampleSum()},
				expr.Series{Name: name + "_count", Labels: labels, Value: float64(h.GetSampleCount())})
		case dto.MetricType_SUMMARY:
			sm := m.GetSummary()
			for _, q := range sm.GetQuantile() {
				out = append(out, expr.Series{Name: name, Labels: with("quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)), Value: q.GetValue()})
			}
			out = append(out,
				expr.Series{Name: name + "_sum", Labels: labels, Value: sm.GetSampleSum()},
				expr.Series{Name: name + "_count", Labels: labels, Value: float64(sm.GetSampleCount())})
		default: // untyped
			out = append(out, expr.Series{Name: name, Labels: labels, Value: m.GetUntyped().GetValue()})
		}
	}
	return out
}

// formatLE writes a bucket bound as Prometheus does, +Inf included.
func formatLE(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
