package measure

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Latency is one of the SDK's latency histograms, summed over its label sets, in seconds.
// Quantiles are interpolated within buckets as PromQL's histogram_quantile does, so
// they are as fine as the buckets (1, 2, 5, 10, 20, 50, 100 ms, ...).
type Latency struct {
	Name          string // what it measures
	Metric        string
	Count         uint64
	Mean          float64
	P50, P95, P99 float64 // +Inf beyond the last bucket
	LastBucket    float64 // the largest finite bucket bound
}

// latencies are the SDK metrics that say how fast the worker got and did its tasks.
var latencies = []struct{ name, metric string }{
	{"workflow task schedule-to-start", "temporal_workflow_task_schedule_to_start_latency_seconds"},
	{"workflow task execution", "temporal_workflow_task_execution_latency_seconds"},
	{"activity schedule-to-start", "temporal_activity_schedule_to_start_latency_seconds"},
	{"activity execution", "temporal_activity_execution_latency_seconds"},
}

// scrapeLatencies reads the workers' /metrics and merges their histograms.
func scrapeLatencies(ctx context.Context, urls ...string) ([]Latency, error) {
	merged := map[string]*dto.MetricFamily{}
	for _, url := range urls {
		families, err := scrape(ctx, url)
		if err != nil {
			return nil, err
		}
		for _, l := range latencies {
			mf, ok := families[l.metric]
			if !ok {
				continue // this worker had no task of that kind: nothing to add
			}
			if m, ok := merged[l.metric]; ok {
				m.Metric = append(m.Metric, mf.GetMetric()...)
			} else {
				merged[l.metric] = mf
			}
		}
	}
	var out []Latency
	for _, l := range latencies {
		mf, ok := merged[l.metric]
		if !ok {
			return nil, fmt.Errorf("the workers' metrics have no %s", l.metric)
		}
		out = append(out, histogramLatency(l.name, l.metric, mf))
	}
	return out, nil
}

func scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the worker's metrics: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse the worker's metrics: %w", err)
	}
	return families, nil
}

// histogramLatency merges the histograms of every label set and reads its quantiles.
func histogramLatency(name, metric string, mf *dto.MetricFamily) Latency {
	l := Latency{Name: name, Metric: metric}
	cumulative := map[float64]uint64{}
	var sum float64
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		l.Count += h.GetSampleCount()
		sum += h.GetSampleSum()
		for _, b := range h.GetBucket() {
			cumulative[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	if l.Count == 0 {
		return l
	}
	l.Mean = sum / float64(l.Count)
	bounds := make([]float64, 0, len(cumulative))
	for ub := range cumulative {
		bounds = append(bounds, ub)
	}
	slices.Sort(bounds)
	for _, ub := range bounds {
		if !math.IsInf(ub, 1) {
			l.LastBucket = ub
		}
	}
	q := func(p float64) float64 {
		rank := p * float64(l.Count)
		lower, below := 0.0, uint64(0)
		for _, ub := range bounds {
			c := cumulative[ub]
			if float64(c) >= rank {
				if math.IsInf(ub, 1) {
					return ub // beyond the last bucket: all we know is that it is more
				}
				in := c - below
				if in == 0 {
					return ub
				}
				return lower + (ub-lower)*(rank-float64(below))/float64(in)
			}
			lower, below = ub, c
		}
		return lower
	}
	l.P50, l.P95, l.P99 = q(0.5), q(0.95), q(0.99)
	return l
}
