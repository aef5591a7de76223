package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/zerodown/zerodown/analysis/stats"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Errors no retry can fix: a metric query that can never be answered (a syntax error,
// an unknown function) or an analysis the worker cannot run. Both match
// fleet.ErrInvalidConfig with errors.Is, so the Check activity fails at once instead of
// retrying: waiting cannot fix a spec.
var (
	ErrInvalidConfig error = configError("invalid analysis configuration")
	ErrInvalidQuery  error = configError("invalid metric query")
)

type configError string

func (e configError) Error() string        { return string(e) }
func (e configError) Is(target error) bool { return target == fleet.ErrInvalidConfig }

// Side is what a provider measured for one side (canary or baseline) of one metric.
type Side struct {
	// Value is the metric over the whole check window, pooled over the side's instances;
	// NaN when it has no value (no series, no traffic, a division by zero).
	Value float64
	// Samples are the per-step values within the window: what minSamples counts and
	// what the Mann-Whitney test compares. Never NaN or infinite.
	Samples []float64
}

// NoSide is a side without any data.
func NoSide() Side { return Side{Value: math.NaN()} }

func (s Side) empty() bool { return math.IsNaN(s.Value) && len(s.Samples) == 0 }

// value is the pooled value, or the mean of the samples when only they exist.
func (s Side) value() float64 {
	if !math.IsNaN(s.Value) || len(s.Samples) == 0 {
		return s.Value
	}
	return mean(s.Samples)
}

// Observation is one metric measured in one check.
type Observation struct {
	Canary, Baseline Side
	// Err is a failed measurement (the metrics source is unreachable). It makes the
	// metric Inconclusive whatever its noData policy: an outage of the source is not
	// evidence about the canary either way.
	Err error
	// Hint is added to a no-data reason (e.g. what setting may explain it).
	Hint string
	// NoBaseline says no old instance serves (post-promotion checks, a first release):
	// comparisons with the baseline are skipped rather than judged as missing data.
	NoBaseline bool
}

// Measure measures one metric of a check. An error fails the whole check; it is for
// errors no retry can fix (ErrInvalidQuery) and cancellation.
type Measure func(ctx context.Context, m schemas.Metric) (Observation, error)

// Run is a check as both metric providers make it: the canary must exist and be healthy,
// then every metric is measured and judged, and the verdicts combine: Fail if any metric
// fails, else Inconclusive if any is inconclusive, else Pass.
func Run(ctx context.Context, req Request, measure Measure) (Result, error) {
	if h, _ := (Health{}).Analyze(ctx, req); h.Verdict != Pass {
		// A missing or unhealthy canary fails whatever its metrics say: an instance out
		// of the load balancer has no traffic, and no data must never pass it.
		return h, nil
	}
	var results []MetricResult
	for _, m := range req.Spec.Metrics {
		obs, err := measure(ctx, m)
		if err != nil {
			return Result{}, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		obs.NoBaseline = len(req.Baseline) == 0
		results = append(results, Judge(m, obs))
	}
	return Combine(results), nil
}

// Combine turns metric verdicts into a check's verdict and summary.
func Combine(results []MetricResult) Result {
	res := Result{Verdict: Pass, Metrics: results}
	var fails, incs, passes []string
	for _, r := range results {
		line := r.Name + ": " + r.Reason
		switch r.Verdict {
		case Fail:
			fails = append(fails, line)
		case Inconclusive:
			incs = append(incs, line)
		default:
			passes = append(passes, line)
		}
	}
	switch {
	case len(fails) > 0:
		res.Verdict = Fail
		res.Summary = strings.Join(fails, "; ")
	case len(incs) > 0:
		res.Verdict = Inconclusive
		res.Summary = strings.Join(incs, "; ")
	case len(passes) > 0:
		res.Summary = strings.Join(passes, "; ")
	default:
		res.Summary = "no metric to check"
	}
	return res
}

// Judge gives one metric's verdict:
//
//  1. a failed measurement is Inconclusive;
//  2. no canary data at all: the noData policy;
//  3. fewer canary samples than minSamples: Inconclusive;
//  4. the absolute bounds (max, min) on the canary's value;
//  5. when vsBaseline or mannWhitney needs the baseline: no baseline data at all is the
//     noData policy, too few baseline samples Inconclusive; otherwise the relative
//     bound and the test. With no baseline instance at all (the release checks the new
//     fleet after its promote), they are skipped and the reason says so.
//
// Any failed bound fails the metric, even when another part is inconclusive.
func Judge(m schemas.Metric, o Observation) MetricResult {
	minSamples := max(1, m.MinSamples)
	r := MetricResult{Name: m.Name, CanarySamples: len(o.Canary.Samples), BaselineSamples: len(o.Baseline.Samples)}
	cv, bv := o.Canary.value(), o.Baseline.value()
	r.Canary, r.Baseline = finite(cv), finite(bv)

	if o.Err != nil {
		r.Verdict, r.Reason = Inconclusive, "measurement failed: "+o.Err.Error()
		return r
	}
	if o.Canary.empty() {
		r.Verdict, r.Reason = noData(m, "no data for the canary", o.Hint)
		return r
	}
	if n := len(o.Canary.Samples); n < minSamples {
		r.Verdict = Inconclusive
		r.Reason = fmt.Sprintf("canary %s from %d sample(s), minSamples is %d", num(cv), n, minSamples)
		if n == 0 && o.Hint != "" {
			r.Reason += " (" + o.Hint + ")"
		}
		return r
	}

	var fails, incs, notes []string
	if m.Max != nil && cv > *m.Max {
		fails = append(fails, fmt.Sprintf("canary %s > max %s", num(cv), num(*m.Max)))
	}
	if m.Min != nil && cv < *m.Min {
		fails = append(fails, fmt.Sprintf("canary %s < min %s", num(cv), num(*m.Min)))
	}

	if m.VsBaseline > 0 || m.MannWhitney != nil {
		switch n := len(o.Baseline.Samples); {
		case o.NoBaseline:
			notes = append(notes, "no baseline instance: vsBaseline and mannWhitney not judged")
		case o.Baseline.empty():
			v, why := noData(m, "no data for the baseline", o.Hint)
			switch v {
			case Fail:
				fails = append(fails, why)
			case Inconclusive:
				incs = append(incs, why)
			default:
				notes = append(notes, why)
			}
		case n < minSamples:
			incs = append(incs, fmt.Sprintf("baseline %s from %d sample(s), minSamples is %d", num(bv), n, minSamples))
		default:
			if m.VsBaseline > 0 {
				if why, ok := vsBaseline(m, cv, bv); !ok {
					fails = append(fails, why)
				}
			}
			if mw := m.MannWhitney; mw != nil {
				p, why, ok := mannWhitney(m, *mw, o.Canary.Samples, o.Baseline.Samples)
				r.PValue = &p
				if !ok {
					fails = append(fails, why)
				} else {
					notes = append(notes, why)
				}
			}
		}
	}

	counts := fmt.Sprintf("%d vs %d samples", len(o.Canary.Samples), len(o.Baseline.Samples))
	switch {
	case len(fails) > 0:
		r.Verdict = Fail
		r.Reason = strings.Join(fails, ", ") + fmt.Sprintf(" (baseline %s, %s)", num(bv), counts)
	case len(incs) > 0:
		r.Verdict = Inconclusive
		r.Reason = strings.Join(incs, ", ") + fmt.Sprintf(" (canary %s)", num(cv))
	default:
		r.Verdict = Pass
		r.Reason = fmt.Sprintf("canary %s, baseline %s (%s", num(cv), num(bv), counts)
		if len(notes) > 0 {
			r.Reason += "; " + strings.Join(notes, "; ")
		}
		r.Reason += ")"
	}
	return r
}

// noData applies a metric's no-data policy; an unknown policy is treated as
// inconclusive so that a missing default can never turn into a pass.
func noData(m schemas.Metric, what, hint string) (string, string) {
	why := what
	if hint != "" {
		why += " (" + hint + ")"
	}
	switch m.NoData {
	case schemas.NoDataFail:
		return Fail, why + ", noData is fail"
	case schemas.NoDataPass:
		return Pass, why + ", noData is pass"
	default:
		return Inconclusive, why
	}
}

// vsBaseline checks canary <= k * max(baseline, floor). With a reference of 0 no
// multiple can tolerate anything above 0, so any positive canary value fails: saying
// Pass would let a canary with errors through against an error-free baseline.
func vsBaseline(m schemas.Metric, cv, bv float64) (string, bool) {
	ref := math.Max(bv, m.BaselineFloor)
	if ref <= 0 {
		if cv > 0 {
			return fmt.Sprintf("canary %s > %s x baseline %s (set baselineFloor to tolerate a little against a baseline of 0)", num(cv), num(m.VsBaseline), num(bv)), false
		}
		return "", true
	}
	if limit := m.VsBaseline * ref; cv > limit {
		what := "baseline"
		if ref > bv {
			what = "baselineFloor"
		}
		return fmt.Sprintf("canary %s > %s x %s %s = %s", num(cv), num(m.VsBaseline), what, num(ref), num(limit)), false
	}
	return "", true
}

// mannWhitney is Kayenta's classification: a difference fails when it is significant at
// the confidence level and the effect (ratio of means) is beyond the tolerated size in
// the bad direction. It returns the p-value and a reason.
func mannWhitney(m schemas.Metric, mw schemas.MannWhitney, canary, baseline []float64) (float64, string, bool) {
	alt := stats.Greater
	switch mw.Direction {
	case schemas.DirectionDecrease:
		alt = stats.Less
	case schemas.DirectionEither:
		alt = stats.TwoSided
	}
	res, err := stats.MannWhitneyU(canary, baseline, alt)
	if err != nil { // unreachable: both sides have minSamples >= 1 samples here
		return 1, err.Error(), true
	}
	alpha := 1 - mw.Confidence
	effect := ratio(mean(canary), math.Max(mean(baseline), m.BaselineFloor))
	size := mw.EffectSize
	if size < 1 {
		size = 1
	}
	detail := fmt.Sprintf("mann-whitney %s p=%.3g, means ratio %s", alt, res.P, num(effect))
	if res.P >= alpha {
		return res.P, detail + fmt.Sprintf(": not significant at %g", mw.Confidence), true
	}
	up := effect > size
	down := effect < 1/size
	bad := (alt == stats.Greater && up) || (alt == stats.Less && down) || (alt == stats.TwoSided && (up || down))
	if bad {
		return res.P, detail + fmt.Sprintf(": significant at %g and beyond effectSize %s", mw.Confidence, num(size)), false
	}
	return res.P, detail + fmt.Sprintf(": significant at %g but within effectSize %s", mw.Confidence, num(size)), true
}

// ratio is a/b where a baseline of 0 gives +Inf for a positive canary (it is infinitely
// worse, never "NaN, so pass") and 1 when both are 0.
func ratio(a, b float64) float64 {
	switch {
	case b > 0:
		return a / b
	case a > 0:
		return math.Inf(1)
	case a < 0:
		return math.Inf(-1)
	default:
		return 1
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// finite keeps NaN and infinities out of results: they travel as JSON, which has none.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// num prints a metric value compactly: 4 significant digits.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "none"
	case math.IsInf(v, 1):
		return "inf"
	}
	return fmt.Sprintf("%.4g", v)
}

// Window is how far back a check looks: its interval, so successive checks judge
// successive stretches of traffic and failureLimit counts independent evidence.
func Window(a schemas.Analysis) time.Duration {
	if d := a.Interval.D(); d > 0 {
		return d
	}
	return time.Minute
}

// IsInvalidQuery tells whether err is a query that can never be answered.
func IsInvalidQuery(err error) bool { return errors.Is(err, ErrInvalidQuery) }
