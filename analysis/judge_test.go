package analysis_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

func ptr(v float64) *float64 { return &v }

func side(v float64, samples ...float64) analysis.Side {
	return analysis.Side{Value: v, Samples: samples}
}

// same returns n copies of v: a steady metric.
func same(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func metric(mut func(*schemas.Metric)) schemas.Metric {
	m := schemas.Metric{Name: "error-rate", Query: "q", NoData: schemas.NoDataInconclusive, MinSamples: 3}
	mut(&m)
	return m
}

// Empty results never pass by accident: each no-data policy does what it says, for the
// canary and for a baseline the metric needs, and a failed measurement is never a pass
// nor a fail.
func TestNoDataPolicies(t *testing.T) {
	good := side(0.01, 0.01, 0.01, 0.01)
	for _, tc := range []struct {
		policy string
		want   string
	}{
		{schemas.NoDataFail, analysis.Fail},
		{schemas.NoDataInconclusive, analysis.Inconclusive},
		{schemas.NoDataPass, analysis.Pass},
		{"", analysis.Inconclusive}, // a spec built in code without Defaults
	} {
		t.Run("canary/"+tc.policy, func(t *testing.T) {
			m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.NoData = tc.policy })
			r := analysis.Judge(m, analysis.Observation{Canary: analysis.NoSide(), Baseline: good})
			require.Equal(t, tc.want, r.Verdict, r.Reason)
			require.Contains(t, r.Reason, "no data for the canary")
		})
		t.Run("baseline/"+tc.policy, func(t *testing.T) {
			m := metric(func(m *schemas.Metric) { m.VsBaseline = 2; m.NoData = tc.policy })
			r := analysis.Judge(m, analysis.Observation{Canary: good, Baseline: analysis.NoSide()})
			require.Equal(t, tc.want, r.Verdict, r.Reason)
			require.Contains(t, r.Reason, "no data for the baseline")
		})
		t.Run("measurement error/"+tc.policy, func(t *testing.T) {
			m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.NoData = tc.policy })
			r := analysis.Judge(m, analysis.Observation{Canary: analysis.NoSide(), Err: errors.New("connection refused")})
			require.Equal(t, analysis.Inconclusive, r.Verdict)
			require.Contains(t, r.Reason, "connection refused")
		})
	}
	// No old instance serving at all (post-promotion checks): the comparisons are
	// skipped, whatever the policy, and the absolute bounds still judge.
	for _, policy := range []string{schemas.NoDataFail, schemas.NoDataInconclusive} {
		m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.VsBaseline = 2; m.NoData = policy })
		r := analysis.Judge(m, analysis.Observation{Canary: good, Baseline: analysis.NoSide(), NoBaseline: true})
		require.Equal(t, analysis.Pass, r.Verdict, r.Reason)
		require.Contains(t, r.Reason, "no baseline instance: vsBaseline and mannWhitney not judged")
		r = analysis.Judge(m, analysis.Observation{Canary: side(0.5, 0.5, 0.5, 0.5), Baseline: analysis.NoSide(), NoBaseline: true})
		require.Equal(t, analysis.Fail, r.Verdict, r.Reason)
		r = analysis.Judge(m, analysis.Observation{Canary: analysis.NoSide(), Baseline: analysis.NoSide(), NoBaseline: true})
		require.Equal(t, map[string]string{schemas.NoDataFail: analysis.Fail, schemas.NoDataInconclusive: analysis.Inconclusive}[policy], r.Verdict,
			"the canary's own data still follows the policy")
	}
	// A baseline the metric does not need is not asked for.
	m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.NoData = schemas.NoDataFail })
	r := analysis.Judge(m, analysis.Observation{Canary: good, Baseline: analysis.NoSide()})
	require.Equal(t, analysis.Pass, r.Verdict, r.Reason)
	// noData: pass does not excuse a canary that breaks its absolute bound.
	m = metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.VsBaseline = 2; m.NoData = schemas.NoDataPass })
	r = analysis.Judge(m, analysis.Observation{Canary: side(0.5, 0.5, 0.5, 0.5), Baseline: analysis.NoSide()})
	require.Equal(t, analysis.Fail, r.Verdict, r.Reason)
}

func TestMinSamples(t *testing.T) {
	m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.VsBaseline = 2; m.MinSamples = 5 })
	r := analysis.Judge(m, analysis.Observation{Canary: side(0.9, 0.9, 0.9), Baseline: side(0.01, same(0.01, 10)...)})
	require.Equal(t, analysis.Inconclusive, r.Verdict, "two samples say little, even far above max")
	require.Contains(t, r.Reason, "2 sample(s), minSamples is 5")

	r = analysis.Judge(m, analysis.Observation{Canary: side(0.01, same(0.01, 5)...), Baseline: side(0.01, 0.01)})
	require.Equal(t, analysis.Inconclusive, r.Verdict)
	require.Contains(t, r.Reason, "baseline 0.01 from 1 sample(s)")

	// A value without samples (the instant query answered, the range query did not):
	// inconclusive with the provider's hint, not the no-data policy.
	m.NoData = schemas.NoDataFail
	r = analysis.Judge(m, analysis.Observation{Canary: side(0.01), Baseline: side(0.01), Hint: "is step at least twice the scrape interval?"})
	require.Equal(t, analysis.Inconclusive, r.Verdict)
	require.Contains(t, r.Reason, "step")
}

func TestAbsoluteBounds(t *testing.T) {
	m := metric(func(m *schemas.Metric) { m.Max = ptr(0.05); m.Min = ptr(0.001) })
	for _, tc := range []struct {
		v      float64
		want   string
		reason string
	}{
		{0.01, analysis.Pass, "canary 0.01"},
		{0.05, analysis.Pass, "canary 0.05"}, // at the bound is within it
		{0.2, analysis.Fail, "canary 0.2 > max 0.05"},
		{0.0001, analysis.Fail, "canary 0.0001 < min 0.001"},
	} {
		r := analysis.Judge(m, analysis.Observation{Canary: side(tc.v, same(tc.v, 3)...), Baseline: analysis.NoSide()})
		require.Equal(t, tc.want, r.Verdict, "%v: %s", tc.v, r.Reason)
		require.Contains(t, r.Reason, tc.reason)
		require.Equal(t, tc.v, r.Canary)
	}
}

func TestRelativeBound(t *testing.T) {
	m := metric(func(m *schemas.Metric) { m.VsBaseline = 1.5 })
	judge := func(m schemas.Metric, c, b float64) analysis.MetricResult {
		return analysis.Judge(m, analysis.Observation{Canary: side(c, same(c, 3)...), Baseline: side(b, same(b, 3)...)})
	}
	require.Equal(t, analysis.Pass, judge(m, 0.015, 0.01).Verdict)
	r := judge(m, 0.02, 0.01)
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Contains(t, r.Reason, "canary 0.02 > 1.5 x baseline 0.01 = 0.015")

	// Against a baseline of 0, no multiple tolerates anything: the first error fails…
	r = judge(m, 0.001, 0)
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Contains(t, r.Reason, "baselineFloor")
	require.Equal(t, analysis.Pass, judge(m, 0, 0).Verdict, "nothing against nothing")
	// …unless a floor says how much is noise.
	m.BaselineFloor = 0.01
	require.Equal(t, analysis.Pass, judge(m, 0.001, 0).Verdict)
	require.Equal(t, analysis.Pass, judge(m, 0.015, 0).Verdict)
	r = judge(m, 0.5, 0)
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Contains(t, r.Reason, "1.5 x baselineFloor 0.01 = 0.015")
}

func TestMannWhitney(t *testing.T) {
	mw := func(mut func(*schemas.MannWhitney)) schemas.Metric {
		return metric(func(m *schemas.Metric) {
			m.MannWhitney = &schemas.MannWhitney{Confidence: 0.95, EffectSize: 1.1, Direction: schemas.DirectionIncrease}
			if mut != nil {
				mut(m.MannWhitney)
			}
		})
	}
	baseline := []float64{0.010, 0.012, 0.009, 0.011, 0.010, 0.013, 0.008, 0.010, 0.012, 0.011}
	worse := []float64{0.030, 0.028, 0.035, 0.031, 0.029, 0.033, 0.032, 0.027, 0.030, 0.034}
	similar := []float64{0.011, 0.009, 0.010, 0.012, 0.010, 0.011, 0.013, 0.009, 0.010, 0.012}
	// A steady baseline and a canary steadily about 6% above it.
	steady := make([]float64, 10)
	slightly := make([]float64, 10)
	for i := range steady {
		steady[i] = 0.0100 + 0.0001*float64(i)
		slightly[i] = 0.0106 + 0.0001*float64(i)
	}
	obs := func(c, b []float64) analysis.Observation {
		return analysis.Observation{Canary: side(math.NaN(), c...), Baseline: side(math.NaN(), b...)}
	}

	r := analysis.Judge(mw(nil), obs(worse, baseline))
	require.Equal(t, analysis.Fail, r.Verdict, r.Reason)
	require.Contains(t, r.Reason, "significant at 0.95 and beyond effectSize 1.1")
	require.NotNil(t, r.PValue)
	require.Less(t, *r.PValue, 0.001)
	require.InDelta(t, mean(worse), r.Canary, 1e-12, "without a pooled value, the samples' mean is shown")

	r = analysis.Judge(mw(nil), obs(similar, baseline))
	require.Equal(t, analysis.Pass, r.Verdict, r.Reason)
	require.Contains(t, r.Reason, "not significant")

	// Always a little worse: significant, but within the tolerance.
	r = analysis.Judge(mw(nil), obs(slightly, steady))
	require.Equal(t, analysis.Pass, r.Verdict, r.Reason)
	require.Contains(t, r.Reason, "within effectSize 1.1")
	r = analysis.Judge(mw(func(m *schemas.MannWhitney) { m.EffectSize = 1 }), obs(slightly, steady))
	require.Equal(t, analysis.Fail, r.Verdict, "effectSize 1 fails every significant increase: %s", r.Reason)

	// A better canary does not fail an "increase is bad" metric; it fails "decrease is bad".
	require.Equal(t, analysis.Pass, analysis.Judge(mw(nil), obs(baseline, worse)).Verdict)
	require.Equal(t, analysis.Fail, analysis.Judge(mw(func(m *schemas.MannWhitney) { m.Direction = schemas.DirectionDecrease }), obs(baseline, worse)).Verdict)
	require.Equal(t, analysis.Fail, analysis.Judge(mw(func(m *schemas.MannWhitney) { m.Direction = schemas.DirectionEither }), obs(baseline, worse)).Verdict)
	require.Equal(t, analysis.Fail, analysis.Judge(mw(func(m *schemas.MannWhitney) { m.Direction = schemas.DirectionEither }), obs(worse, baseline)).Verdict)

	// Errors against an error-free baseline: the ratio is infinite, never NaN-so-pass
	// (Kayenta's mean ratio is NaN there and lets the canary through).
	zeros := same(0, 12)
	errs := []float64{0, 0.1, 0.2, 0.3, 0.25, 0.4, 0, 0.5, 0.35, 0.2}
	r = analysis.Judge(mw(nil), obs(errs, zeros))
	require.Equal(t, analysis.Fail, r.Verdict, r.Reason)
	require.Contains(t, r.Reason, "means ratio inf")
	require.Equal(t, analysis.Pass, analysis.Judge(mw(nil), obs(zeros, zeros)).Verdict, "all tied: no difference")

	// A stricter confidence needs stronger evidence.
	few := []float64{0.03, 0.028, 0.035}
	require.Equal(t, analysis.Fail, analysis.Judge(mw(nil), obs(few, baseline[:4])).Verdict)
	require.Equal(t, analysis.Pass, analysis.Judge(mw(func(m *schemas.MannWhitney) { m.Confidence = 0.999 }), obs(few, baseline[:4])).Verdict)
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestCombine(t *testing.T) {
	pass := analysis.MetricResult{Name: "latency", Verdict: analysis.Pass, Reason: "canary 0.004, baseline 0.004"}
	inc := analysis.MetricResult{Name: "ws", Verdict: analysis.Inconclusive, Reason: "no data for the canary"}
	fail := analysis.MetricResult{Name: "error-rate", Verdict: analysis.Fail, Reason: "canary 0.5 > max 0.05"}

	r := analysis.Combine([]analysis.MetricResult{pass, inc, fail})
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Equal(t, "error-rate: canary 0.5 > max 0.05", r.Summary, "the summary names what failed, with its numbers")
	r = analysis.Combine([]analysis.MetricResult{pass, inc})
	require.Equal(t, analysis.Inconclusive, r.Verdict)
	require.Equal(t, "ws: no data for the canary", r.Summary)
	r = analysis.Combine([]analysis.MetricResult{pass})
	require.Equal(t, analysis.Pass, r.Verdict)
	require.Equal(t, "latency: canary 0.004, baseline 0.004", r.Summary)
}

// Run checks the canary's health before its metrics, and never lets a provider error
// that is not the canary's fault pass.
func TestRun(t *testing.T) {
	spec := schemas.Analysis{Interval: schemas.Duration(time.Minute), Metrics: []schemas.Metric{
		metric(func(m *schemas.Metric) { m.Max = ptr(0.05) }),
	}}
	healthy := []fleet.Instance{{ID: "c1", Healthy: true}}
	measured := 0
	measure := func(context.Context, schemas.Metric) (analysis.Observation, error) {
		measured++
		return analysis.Observation{Canary: side(0.01, 0.01, 0.01, 0.01)}, nil
	}

	r, err := analysis.Run(context.Background(), analysis.Request{Spec: spec}, measure)
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Contains(t, r.Summary, "no canary instance")

	r, err = analysis.Run(context.Background(), analysis.Request{Spec: spec, Canary: []fleet.Instance{{ID: "c1"}}}, measure)
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, r.Verdict)
	require.Contains(t, r.Summary, "unhealthy")
	require.Zero(t, measured)

	r, err = analysis.Run(context.Background(), analysis.Request{Spec: spec, Canary: healthy}, measure)
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, r.Verdict, r.Summary)

	// Run tells Judge when no old instance serves: a post-promotion check of a metric
	// with vsBaseline judges its absolute bound only.
	spec.Metrics[0].VsBaseline = 2
	spec.Metrics[0].NoData = schemas.NoDataFail
	r, err = analysis.Run(context.Background(), analysis.Request{Spec: spec, Canary: healthy}, measure)
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, r.Verdict, r.Summary)
	require.Contains(t, r.Summary, "not judged")
	require.Len(t, r.Metrics, 1)
	_, err = json.Marshal(r) // results travel as JSON: no NaN may reach them
	require.NoError(t, err)

	_, err = analysis.Run(context.Background(), analysis.Request{Spec: spec, Canary: healthy}, func(context.Context, schemas.Metric) (analysis.Observation, error) {
		return analysis.Observation{}, analysis.ErrInvalidQuery
	})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "a query that can never work fails the check at once")
}

func TestNoNaNInResults(t *testing.T) {
	m := metric(func(m *schemas.Metric) { m.VsBaseline = 2; m.NoData = schemas.NoDataPass })
	r := analysis.Judge(m, analysis.Observation{Canary: analysis.NoSide(), Baseline: analysis.NoSide()})
	_, err := json.Marshal(r)
	require.NoError(t, err)
}
