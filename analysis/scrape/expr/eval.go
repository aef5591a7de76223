package expr

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Series is one sample line of a /metrics page: a name, its labels and its value.
// Histograms appear as Prometheus exposes them: name_bucket{le=...}, name_sum, name_count.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// key identifies a series across scrapes.
func (s Series) key() string {
	names := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range names {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(s.Labels[k])
	}
	return b.String()
}

// Span is what a query is evaluated on: one or more pairs of successive scrapes. One
// pair gives one sample of one instance; the pairs of all of a side's instances over a
// check's window give its pooled value. Pooled values are per instance (rates divided
// by instance-seconds, gauges averaged), so a canary of one instance compares fairly
// with a baseline of ten.
type Span struct {
	pairs     []pair
	seconds   float64
	instances map[string]bool
}

type pair struct {
	before map[string]float64 // by series key
	after  []Series
}

// Add records two successive scrapes of instance, seconds apart.
func (s *Span) Add(instance string, before, after []Series, seconds float64) {
	if seconds <= 0 {
		return
	}
	idx := make(map[string]float64, len(before))
	for _, b := range before {
		idx[b.key()] = b.Value
	}
	s.pairs = append(s.pairs, pair{before: idx, after: after})
	s.seconds += seconds
	if s.instances == nil {
		s.instances = map[string]bool{}
	}
	s.instances[instance] = true
}

// Empty tells whether the span holds no pair of scrapes.
func (s *Span) Empty() bool { return len(s.pairs) == 0 }

// Eval computes the query over the span; NaN when it has no value (no matching series,
// no traffic for a ratio, an empty histogram) — the caller's "no data", never a number
// that could pass a bound.
func (e *Expr) Eval(s *Span) float64 {
	if s.Empty() {
		return math.NaN()
	}
	v := e.root.eval(s)
	if math.IsInf(v, 0) {
		return math.NaN() // x/0: no traffic in the denominator
	}
	return v
}

type node interface{ eval(*Span) float64 }

type number float64

func (n number) eval(*Span) float64 { return float64(n) }

type binary struct {
	op   string
	l, r node
}

func (b *binary) eval(s *Span) float64 {
	l, r := b.l.eval(s), b.r.eval(s)
	switch b.op {
	case "+":
		return l + r
	case "-":
		return l - r
	case "*":
		return l * r
	}
	if r == 0 {
		return math.NaN() // 0/0 and x/0 alike: nothing to divide by
	}
	return l / r
}

type matcher struct {
	label, op, value string
	re               *regexp.Regexp
}

func (m matcher) matches(labels map[string]string) bool {
	v := labels[m.label] // an absent label reads as "", as in PromQL
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

type selector struct {
	name     string
	matchers []matcher
}

func (sel *selector) matches(x Series) bool {
	if x.Name != sel.name {
		return false
	}
	for _, m := range sel.matchers {
		if !m.matches(x.Labels) {
			return false
		}
	}
	return true
}

// increaseOf is the counter increase of one series between two scrapes. A lower value
// means the counter was reset (the process restarted), so the whole new value is the
// increase; a series absent before was created since, from 0.
func increaseOf(p pair, x Series) float64 {
	before, ok := p.before[x.key()]
	if !ok || x.Value < before {
		return x.Value
	}
	return x.Value - before
}

// sumIncrease adds the increases of every matching series over every pair. found is
// false when the page has no series of that name at all (no data). When the metric
// exists but no series matches the labels, the sum is a genuine 0: client libraries
// create a series on its first event, so a service that never answered 500 has no
// code="500" series, and its error rate is 0, not unknown (PromQL needs
// "or vector(0)" for this).
func (sel *selector) sumIncrease(s *Span) (total float64, found bool) {
	for _, p := range s.pairs {
		for _, x := range p.after {
			if x.Name != sel.name {
				continue
			}
			found = true
			if sel.matches(x) {
				total += increaseOf(p, x)
			}
		}
	}
	return total, found
}

// eval of a bare selector is a gauge: the sum of the matching series at the end of each
// pair, averaged over pairs (so over instances and time). As for counters, a metric that
// exists with no matching series sums to 0.
func (sel *selector) eval(s *Span) float64 {
	var total float64
	found := false
	for _, p := range s.pairs {
		for _, x := range p.after {
			if x.Name != sel.name {
				continue
			}
			found = true
			if sel.matches(x) {
				total += x.Value
			}
		}
	}
	if !found {
		return math.NaN()
	}
	return total / float64(len(s.pairs))
}

type rate struct{ sel *selector }

func (r *rate) eval(s *Span) float64 {
	total, found := r.sel.sumIncrease(s)
	if !found {
		return math.NaN()
	}
	return total / s.seconds
}

type increase struct{ sel *selector }

// eval is the increase per instance over the span.
func (in *increase) eval(s *Span) float64 {
	total, found := in.sel.sumIncrease(s)
	if !found {
		return math.NaN()
	}
	return total / float64(max(1, len(s.instances)))
}

type quantile struct {
	phi float64
	sel *selector
}

// eval is Prometheus's histogram_quantile over the buckets' increases: linear
// interpolation within the bucket holding the rank, the lower bound of +Inf's bucket
// when the rank falls there.
func (q *quantile) eval(s *Span) float64 {
	counts := map[float64]float64{}
	for _, p := range s.pairs {
		for _, x := range p.after {
			if !q.sel.matches(x) {
				continue
			}
			le, err := strconv.ParseFloat(x.Labels["le"], 64)
			if err != nil {
				continue
			}
			counts[le] += increaseOf(p, x)
		}
	}
	type bucket struct{ upper, count float64 }
	var bs []bucket
	for le, c := range counts {
		bs = append(bs, bucket{le, c})
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		switch {
		case a.upper < b.upper:
			return -1
		case a.upper > b.upper:
			return 1
		}
		return 0
	})
	if len(bs) < 2 || !math.IsInf(bs[len(bs)-1].upper, 1) {
		return math.NaN()
	}
	for i := 1; i < len(bs); i++ { // cumulative counts never decrease; repair scrape skew
		bs[i].count = math.Max(bs[i].count, bs[i-1].count)
	}
	total := bs[len(bs)-1].count
	if total == 0 {
		return math.NaN() // no observation in the span
	}
	rank := q.phi * total
	b := sort.Search(len(bs), func(i int) bool { return bs[i].count >= rank })
	if b == len(bs)-1 {
		return bs[len(bs)-2].upper
	}
	if b == 0 && bs[0].upper <= 0 {
		return bs[0].upper
	}
	start, end, count := 0.0, bs[b].upper, bs[b].count
	if b > 0 {
		start = bs[b-1].upper
		count -= bs[b-1].count
		rank -= bs[b-1].count
	}
	return start + (end-start)*(rank/count)
}

// walk visits every node of the tree.
func walk(n node, f func(node)) {
	f(n)
	switch v := n.(type) {
	case *binary:
		walk(v.l, f)
		walk(v.r, f)
	case *rate:
		walk(v.sel, f)
	case *increase:
		walk(v.sel, f)
	case *quantile:
		walk(v.sel, f)
	}
}
