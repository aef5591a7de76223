package stats_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis/stats"
)

// The reference figures below are what scipy.stats.mannwhitneyu(x, y, alternative=...)
// returns with its defaults. SciPy cannot be installed here, so they were computed by
// testdata/mwu_reference.py: exact p-values by enumerating every rank assignment,
// asymptotic ones from SciPy's formula (tie-corrected variance, continuity ½). The first
// case is the example of SciPy's own documentation, whose printed values (U=17,
// p=0.1111111111111111 exact, 0.11134688653314041 asymptotic) the script reproduces.
func TestMannWhitneyUMatchesSciPy(t *testing.T) {
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	for _, tc := range []struct {
		name  string
		x, y  []float64
		alt   stats.Alternative
		u, p  float64
		exact bool
	}{
		{"scipy docs, exact", males, females, stats.TwoSided, 17, 0.1111111111111111, true},
		{"scipy docs, one-sided greater", males, females, stats.Greater, 17, 0.05555555555555555, true},
		{"scipy docs, one-sided less", males, females, stats.Less, 17, 0.9682539682539683, true},
		{"fully separated 4 vs 5", []float64{5.1, 6.2, 7.3, 8.4}, []float64{1, 2, 3, 4, 4.5}, stats.Greater, 20, 0.007936507936507936, true},
		{"interleaved 3 vs 7", []float64{1.2, 3.4, 5.6}, []float64{0.5, 2.2, 2.9, 4.1, 4.4, 6.0, 7.5}, stats.TwoSided, 9, 0.8333333333333334, true},
		{"ties: error rates with zeros",
			[]float64{0, 0, 0.1, 0.2, 0.3, 0.25, 0.4, 0, 0.5, 0.35},
			[]float64{0, 0, 0, 0, 0.05, 0, 0, 0, 0, 0, 0, 0},
			stats.Greater, 100.5, 0.0011078314567819177, false},
		{"10 vs 10, no ties",
			[]float64{10, 12, 14, 16, 18, 20, 22, 24, 26, 28},
			[]float64{5.5, 7.5, 9.5, 11.5, 13.5, 15.5, 17.5, 19.5, 21.5, 23.5},
			stats.TwoSided, 72, 0.10410988966022679, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stats.MannWhitneyU(tc.x, tc.y, tc.alt)
			require.NoError(t, err)
			require.Equal(t, tc.u, got.U)
			require.InDelta(t, tc.p, got.P, 1e-12)
			require.Equal(t, tc.exact, got.Exact)
		})
	}
}

// Two identical samples tie everywhere, which forces the normal approximation; it must
// find no difference at all.
func TestMannWhitneyUIdenticalSamples(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	y := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	got, err := stats.MannWhitneyU(x, y, stats.TwoSided)
	require.NoError(t, err)
	require.False(t, got.Exact)
	require.Equal(t, 50.0, got.U)
	require.Equal(t, 1.0, got.P, "identical samples cannot differ")
}

// Every value tied: no evidence of any difference, as SciPy answers (p = 1), and no NaN
// that would reach a verdict.
func TestMannWhitneyUAllTied(t *testing.T) {
	for _, alt := range []stats.Alternative{stats.TwoSided, stats.Greater, stats.Less} {
		got, err := stats.MannWhitneyU([]float64{0, 0, 0}, []float64{0, 0, 0, 0}, alt)
		require.NoError(t, err)
		require.Equal(t, 1.0, got.P, alt.String())
	}
}

func TestMannWhitneyUEmpty(t *testing.T) {
	_, err := stats.MannWhitneyU(nil, []float64{1}, stats.TwoSided)
	require.ErrorIs(t, err, stats.ErrEmptySample)
}

// The exact distribution is symmetric and sums to one; at its extremes it is one
// arrangement out of C(n1+n2, n1). A small sample against a large one stays exact
// (SciPy's rule: exact when either sample has at most 8 values) and stays accurate.
func TestMannWhitneyUExactExtremes(t *testing.T) {
	x := []float64{100, 101, 102}
	y := make([]float64, 200)
	for i := range y {
		y[i] = float64(i) / 10
	}
	got, err := stats.MannWhitneyU(x, y, stats.Greater)
	require.NoError(t, err)
	require.True(t, got.Exact)
	require.Equal(t, 600.0, got.U)
	// One arrangement of C(203, 3) = 1373701 puts all three x values on top.
	require.InDelta(t, 1.0/1373701, got.P, 1e-15)

	got, err = stats.MannWhitneyU(x, y, stats.Less)
	require.NoError(t, err)
	require.InDelta(t, 1.0, got.P, 1e-12)
	require.False(t, math.IsNaN(got.P))
}
