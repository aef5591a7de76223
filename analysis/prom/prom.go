// Package prom is the analysis provider that asks Prometheus: each metric is a PromQL
// template run once for the canary and once for the baseline, over the HTTP API.
//
// A check looks at its last interval. The metric's value is an instant query at the
// check's time with {{.Window}} set to the interval (e.g. the error rate over the whole
// interval); its samples are a range query over the interval, one point per step, with
// {{.Window}} set to the step, so that samples do not overlap and the Mann-Whitney test
// sees independent-ish values rather than one value repeated.
package prom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultQueryTimeout bounds one query: a check makes four per metric and must end well
// inside the Check activity's one-minute timeout.
const DefaultQueryTimeout = 10 * time.Second

// Analyzer is the prometheus provider. It keeps one API client per Prometheus URL.
type Analyzer struct {
	QueryTimeout time.Duration
	// Now is the time a check judges up to; tests may fix it.
	Now func() time.Time

	mu   sync.Mutex
	apis map[string]v1.API
}

var _ analysis.Analyzer = (*Analyzer)(nil)

// New returns a prometheus analyzer.
func New() *Analyzer {
	return &Analyzer{QueryTimeout: DefaultQueryTimeout, Now: time.Now, apis: map[string]v1.API{}}
}

// TemplateData is what a query template can use.
type TemplateData struct {
	// Version is the side's version: the release's for the canary, the old one for the
	// baseline.
	Version string
	// Instances matches the side's instances' addresses (host:port, Prometheus's
	// instance label), as a regex escaped for a double-quoted PromQL string:
	// instance=~"{{.Instances}}".
	Instances string
	// InstanceIDs matches their ids (the local cloud's instance_id label, EC2 ids), escaped
	// the same way.
	InstanceIDs string
	// Window is a Prometheus duration: the interval for the value, the step for samples.
	Window string
}

func (a *Analyzer) api(url string) (v1.API, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.apis[url]; ok {
		return c, nil
	}
	client, err := api.NewClient(api.Config{Address: url, Client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4}}})
	if err != nil {
		return nil, fmt.Errorf("%w: canary.analysis.prometheusURL %q: %v", analysis.ErrInvalidConfig, url, err)
	}
	c := v1.NewAPI(client)
	a.apis[url] = c
	return c, nil
}

// Analyze judges one check.
func (a *Analyzer) Analyze(ctx context.Context, req analysis.Request) (analysis.Result, error) {
	spec := req.Spec
	if spec.PrometheusURL == "" {
		return analysis.Result{}, fmt.Errorf("%w: canary.analysis.prometheusURL is required by the prometheus provider", analysis.ErrInvalidConfig)
	}
	papi, err := a.api(spec.PrometheusURL)
	if err != nil {
		return analysis.Result{}, err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	end := now()
	window, step := analysis.Window(spec), spec.StepOrDefault()
	return analysis.Run(ctx, req, func(ctx context.Context, m schemas.Metric) (analysis.Observation, error) {
		var obs analysis.Observation
		c, chint, err := a.side(ctx, papi, m, req.Version, req.Canary, end, window, step)
		if err != nil {
			if analysis.IsInvalidQuery(err) || ctx.Err() != nil {
				return obs, err
			}
			obs.Err = err
		}
		b, bhint := analysis.NoSide(), "no baseline instance"
		if len(req.Baseline) > 0 && obs.Err == nil {
			b, bhint, err = a.side(ctx, papi, m, req.BaselineVersion, req.Baseline, end, window, step)
			if err != nil {
				if analysis.IsInvalidQuery(err) || ctx.Err() != nil {
					return obs, err
				}
				obs.Err = err
			}
		}
		obs.Canary, obs.Baseline, obs.Hint = c, b, chint
		if len(c.Samples) > 0 || !math.IsNaN(c.Value) {
			obs.Hint = bhint
		}
		return obs, nil
	})
}

// side measures one side: the value over the window and the samples within it.
func (a *Analyzer) side(ctx context.Context, papi v1.API, m schemas.Metric, version string, ins []fleet.Instance, end time.Time, window, step time.Duration) (analysis.Side, string, error) {
	side := analysis.NoSide()
	data := TemplateData{Version: version, Instances: matchAny(ins, func(i fleet.Instance) string { return i.Address }),
		InstanceIDs: matchAny(ins, func(i fleet.Instance) string { return i.ID })}

	data.Window = model.Duration(window).String()
	valueQuery, err := render(m.Query, data)
	if err != nil {
		return side, "", err
	}
	qctx, cancel := context.WithTimeout(ctx, a.timeout())
	val, _, _, err := papi.Query(qctx, valueQuery, end)
	cancel()
	if err != nil {
		return side, "", classify(valueQuery, err)
	}
	side.Value, err = instantValue(valueQuery, val)
	if err != nil {
		return side, "", err
	}

	data.Window = model.Duration(step).String()
	sampleQuery, err := render(m.Query, data)
	if err != nil {
		return side, "", err
	}
	qctx, cancel = context.WithTimeout(ctx, a.timeout())
	// Points at end-window+step … end: one per step, each covering the step before it.
	rng := v1.Range{Start: end.Add(-window + step), End: end, Step: step}
	vals, _, _, err := papi.QueryRange(qctx, sampleQuery, rng)
	cancel()
	if err != nil {
		return side, "", classify(sampleQuery, err)
	}
	if mat, ok := vals.(model.Matrix); ok {
		for _, series := range mat {
			for _, p := range series.Values {
				if v := float64(p.Value); !math.IsNaN(v) && !math.IsInf(v, 0) {
					side.Samples = append(side.Samples, v)
				}
			}
		}
	}

	var hint string
	switch {
	case math.IsNaN(side.Value) && len(side.Samples) == 0:
		hint = "no series for " + shorten(valueQuery)
	case len(side.Samples) == 0:
		hint = fmt.Sprintf("no point at step %s; is step at least twice Prometheus's scrape_interval?", data.Window)
	}
	return side, hint, nil
}

func (a *Analyzer) timeout() time.Duration {
	if a.QueryTimeout > 0 {
		return a.QueryTimeout
	}
	return DefaultQueryTimeout
}

// instantValue reads an instant query's answer as one number: a scalar, or the mean of
// a vector's finite values (a query written without sum/avg still gives an answer, the
// average instance). NaN (0/0: no traffic) is no value.
func instantValue(query string, v model.Value) (float64, error) {
	switch x := v.(type) {
	case *model.Scalar:
		if f := float64(x.Value); !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
		return math.NaN(), nil
	case model.Vector:
		var sum float64
		n := 0
		for _, s := range x {
			if f := float64(s.Value); !math.IsNaN(f) && !math.IsInf(f, 0) {
				sum += f
				n++
			}
		}
		if n == 0 {
			return math.NaN(), nil
		}
		return sum / float64(n), nil
	case nil:
		return math.NaN(), nil
	}
	return 0, fmt.Errorf("%w: %s returns a %s, not one value (remove the range [..] or aggregate it)", analysis.ErrInvalidQuery, shorten(query), v.Type())
}

// classify tells a query Prometheus refuses (never retried) from an outage (the
// metric is inconclusive, and the next check tries again).
func classify(query string, err error) error {
	var perr *v1.Error
	if errors.As(err, &perr) && perr.Type == v1.ErrBadData {
		return fmt.Errorf("%w: %s: %s", analysis.ErrInvalidQuery, shorten(query), perr.Msg)
	}
	return fmt.Errorf("prometheus: %w", err)
}

// render fills a query template. Unknown fields are errors: a typo must not become an
// empty matcher that selects every instance of every version.
func render(query string, data TemplateData) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", fmt.Errorf("%w: %v", analysis.ErrInvalidQuery, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%w: %v (a query knows {{.Version}}, {{.Instances}}, {{.InstanceIDs}} and {{.Window}})", analysis.ErrInvalidQuery, err)
	}
	return b.String(), nil
}

// matchAny builds an anchored-by-PromQL alternation of the instances' values, each
// escaped as a regex and then for a double-quoted PromQL string (\ doubled).
func matchAny(ins []fleet.Instance, field func(fleet.Instance) string) string {
	parts := make([]string, 0, len(ins))
	for _, in := range ins {
		if v := field(in); v != "" {
			parts = append(parts, strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`))
		}
	}
	return strings.Join(parts, "|")
}

func shorten(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 200 {
		return q[:197] + "..."
	}
	return q
}
