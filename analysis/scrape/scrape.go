// Package scrape is the analysis provider that needs no Prometheus: it reads the
// /metrics page of every canary and baseline instance itself, once per analysis step,
// and judges each check on the rates between successive scrapes (queries in the
// language of package expr).
//
// Counters only mean something as differences, so the provider keeps state: a sampler
// per instance, running in the worker between checks and kept by the Analyzer for its
// lifetime, keyed by release and instance. The first check that names an instance
// starts its sampler and waits a few steps for samples (at most FirstSightWait); a
// worker restart therefore costs the samples of one interval, never a wrong verdict:
// too few samples are Inconclusive. A sampler stops on its own once no check has asked
// for its instance for two intervals (the release ended, paused or moved on).
package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/scrape/expr"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultFirstSightWait bounds the wait for samples of newly seen instances; it keeps
// a check well inside the one-minute timeout of the Check activity.
const DefaultFirstSightWait = 20 * time.Second

// Analyzer is the scrape provider. Use New; Close stops its samplers.
type Analyzer struct {
	// Client scrapes instances; each scrape is also bounded by the step.
	Client *http.Client
	// Path is where instances serve their metrics.
	Path string
	// FirstSightWait bounds how long a check waits for samples of instances it has not
	// sampled before.
	FirstSightWait time.Duration
	// IdleGrace is added to two intervals before the sampler of an instance no check
	// asks about stops.
	IdleGrace time.Duration

	mu      sync.Mutex
	targets map[string]*target
	queries map[string]*expr.Expr
	quit    chan struct{}
	closed  bool
	wg      sync.WaitGroup
}

var _ analysis.Analyzer = (*Analyzer)(nil)

// New returns a scrape analyzer reading /metrics.
func New() *Analyzer {
	return &Analyzer{
		Client:         &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2}},
		Path:           "/metrics",
		FirstSightWait: DefaultFirstSightWait,
		IdleGrace:      time.Minute,
		targets:        map[string]*target{},
		queries:        map[string]*expr.Expr{},
		quit:           make(chan struct{}),
	}
}

// Close stops every sampler and waits for them.
func (a *Analyzer) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.quit)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// Sampling reports how many instances are being sampled (for tests and the worker's
// metrics).
func (a *Analyzer) Sampling() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.targets)
}

// Analyze judges one check on the samples of the last interval.
func (a *Analyzer) Analyze(ctx context.Context, req analysis.Request) (analysis.Result, error) {
	if h, _ := (analysis.Health{}).Analyze(ctx, req); h.Verdict != analysis.Pass {
		return h, nil // no instance to scrape, or one out of the load balancer: fail now
	}
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return analysis.Result{}, ErrClosed
	}
	spec := req.Spec
	step, window := spec.StepOrDefault(), analysis.Window(spec)

	// Parse every query for both sides first: a bad query fails the check before any
	// sampler starts.
	type sides struct{ canary, baseline *expr.Expr }
	parsed := map[string]sides{}
	var names []string
	for _, m := range spec.Metrics {
		c, err := a.parse(m.Query, req.Version)
		if err != nil {
			return analysis.Result{}, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		b, err := a.parse(m.Query, req.BaselineVersion)
		if err != nil {
			return analysis.Result{}, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		parsed[m.Name] = sides{c, b}
		names = append(names, c.Names()...)
		names = append(names, b.Names()...)
	}

	canary, fresh := a.watch(req.Release, req.Canary, step, window, names)
	baseline, freshB := a.watch(req.Release, req.Baseline, step, window, names)
	fresh = append(fresh, freshB...)
	if len(fresh) > 0 {
		need := 1
		for _, m := range spec.Metrics {
			need = max(need, m.MinSamples)
		}
		wait := min(a.FirstSightWait, window)
		if err := waitForPairs(ctx, fresh, need, wait); err != nil {
			return analysis.Result{}, err
		}
	}

	end := time.Now()
	return analysis.Run(ctx, req, func(_ context.Context, m schemas.Metric) (analysis.Observation, error) {
		q := parsed[m.Name]
		c, chint := measure(q.canary, canary, end, window)
		b, bhint := measure(q.baseline, baseline, end, window)
		obs := analysis.Observation{Canary: c, Baseline: b, Hint: chint}
		if len(c.Samples) > 0 {
			obs.Hint = bhint
		}
		return obs, nil
	})
}

// parse renders a query's template for a version ({{.Version}} is the only field a
// scrape query can use: each instance's own page is read) and parses it, once.
func (a *Analyzer) parse(query, version string) (*expr.Expr, error) {
	text := query
	if strings.Contains(query, "{{") {
		t, err := template.New("query").Option("missingkey=error").Parse(query)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", analysis.ErrInvalidQuery, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Version string }{version}); err != nil {
			return nil, fmt.Errorf("%w: %v (a scrape query knows {{.Version}} only)", analysis.ErrInvalidQuery, err)
		}
		text = b.String()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.queries[text]; ok {
		return e, nil
	}
	e, err := expr.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %q %v", analysis.ErrInvalidQuery, text, err)
	}
	a.queries[text] = e
	return e, nil
}

// watch returns the samplers of instances, starting those not running yet (returned
// as fresh too), and tells each one what to keep and that it is still wanted.
func (a *Analyzer) watch(release string, instances []fleet.Instance, step, window time.Duration, names []string) (all, fresh []*target) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, in := range instances {
		if in.Address == "" {
			continue
		}
		key := release + "|" + in.ID + "|" + in.Address
		t, ok := a.targets[key]
		if !ok {
			t = &target{key: key, id: in.ID, addr: in.Address, names: map[string]bool{}, wake: make(chan struct{}, 1)}
			a.targets[key] = t
			fresh = append(fresh, t)
		}
		t.want(step, window, a.IdleGrace, names)
		all = append(all, t)
		if !ok && !a.closed {
			a.wg.Add(1)
			go a.sample(t)
		}
	}
	return all, fresh
}

// waitForPairs waits until every target has need pairs of scrapes, or wait has passed.
func waitForPairs(ctx context.Context, ts []*target, need int, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := true
		for _, t := range ts {
			if t.scrapes() < need+1 && !t.failing() {
				ready = false
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil // judge what there is: too few samples are Inconclusive, not an error
		case <-tick.C:
		}
	}
}

// measure evaluates a query for one side over the window ending at end: one sample per
// pair of successive scrapes of each instance, and the value pooled over all of them.
// The hint says why there is no data, when there is none.
func measure(q *expr.Expr, ts []*target, end time.Time, window time.Duration) (analysis.Side, string) {
	side := analysis.Side{Value: math.NaN()}
	pooled := &expr.Span{}
	var hints []string
	for _, t := range ts {
		snaps, seen, lastErr := t.view()
		n := 0
		for i := 1; i < len(snaps); i++ {
			at := snaps[i].at
			if !at.After(end.Add(-window)) || at.After(end) {
				continue
			}
			secs := at.Sub(snaps[i-1].at).Seconds()
			one := &expr.Span{}
			one.Add(t.key, snaps[i-1].series, snaps[i].series, secs)
			pooled.Add(t.key, snaps[i-1].series, snaps[i].series, secs)
			n++
			if v := q.Eval(one); !math.IsNaN(v) {
				side.Samples = append(side.Samples, v)
			}
		}
		switch {
		case lastErr != nil && n == 0:
			hints = append(hints, fmt.Sprintf("scraping %s failed: %v", t.addr, lastErr))
		case n == 0:
			hints = append(hints, fmt.Sprintf("%s not scraped twice yet in this window", t.addr))
		default:
			for _, name := range q.Names() {
				if len(seen) > 0 && !seen[name] {
					hints = append(hints, fmt.Sprintf("%s has no series named %s", t.addr, name))
				}
			}
		}
	}
	side.Value = q.Eval(pooled)
	if len(ts) == 0 {
		hints = append(hints, "no instance")
	}
	hint := strings.Join(hints, "; ")
	if hint == "" && math.IsNaN(side.Value) {
		hint = "the query has no value in this window: no traffic?"
	}
	return side, hint
}

// target samples one instance of one release.
type target struct {
	key, id, addr string
	wake          chan struct{}

	mu        sync.Mutex
	step      time.Duration
	window    time.Duration
	grace     time.Duration
	names     map[string]bool
	snaps     []snapshot
	seen      map[string]bool // every series name of the last successful scrape
	lastErr   error
	lastAsked time.Time
}

type snapshot struct {
	at     time.Time
	series []expr.Series
}

func (t *target) want(step, window, grace time.Duration, names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.step != 0 && step < t.step {
		select { // sample faster at once, not after the slower tick
		case t.wake <- struct{}{}:
		default:
		}
	}
	t.step, t.window, t.grace = step, max(t.window, window), grace
	t.lastAsked = time.Now()
	for _, n := range names {
		t.names[n] = true
	}
}

func (t *target) scrapes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.snaps)
}

func (t *target) failing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr != nil && len(t.snaps) == 0
}

func (t *target) view() ([]snapshot, map[string]bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.snaps), t.seen, t.lastErr
}

// idle tells whether no check has wanted this instance for two windows (and the grace).
func (t *target) idle(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Sub(t.lastAsked) > 2*t.window+t.grace
}

// sample scrapes the target every step until it is idle or the analyzer closes.
func (a *Analyzer) sample(t *target) {
	defer a.wg.Done()
	defer func() {
		a.mu.Lock()
		if a.targets[t.key] == t {
			delete(a.targets, t.key)
		}
		a.mu.Unlock()
	}()
	for {
		t.mu.Lock()
		step := t.step
		t.mu.Unlock()
		a.scrapeOnce(t, step)
		if t.idle(time.Now()) {
			return
		}
		timer := time.NewTimer(step)
		select {
		case <-a.quit:
			timer.Stop()
			return
		case <-t.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

func (a *Analyzer) scrapeOnce(t *target, step time.Duration) {
	t.mu.Lock()
	names := make(map[string]bool, len(t.names))
	for n := range t.names {
		names[n] = true
	}
	t.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), max(step, time.Second))
	defer cancel()
	series, seen, err := fetch(ctx, a.Client, "http://"+t.addr+a.Path, names)
	at := time.Now()

	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.lastErr = err
		return
	}
	t.lastErr = nil
	t.seen = seen
	t.snaps = append(t.snaps, snapshot{at: at, series: series})
	// Keep the window plus the scrape before it (the base of the first pair).
	cut := at.Add(-t.window - 2*t.step)
	i := 0
	for i < len(t.snaps)-2 && t.snaps[i+1].at.Before(cut) {
		i++
	}
	t.snaps = t.snaps[i:]
}

// ErrClosed is returned by Analyze after Close.
var ErrClosed = errors.New("scrape analyzer closed")
