// Package stats holds the statistics canary analysis rests on: the Mann-Whitney U test,
// which compares two samples without assuming any distribution (latencies and error
// rates are skewed, bursty and full of zeros, so a t-test would mislead).
package stats

import (
	"errors"
	"math"
	"slices"
)

// Alternative is the hypothesis the test looks for, about the first sample x.
type Alternative int

// Alternatives, named as scipy.stats.mannwhitneyu names them.
const (
	TwoSided Alternative = iota // x and y differ either way
	Greater                     // x tends to be larger than y
	Less                        // x tends to be smaller than y
)

// String names the alternative as SciPy does.
func (a Alternative) String() string {
	switch a {
	case Greater:
		return "greater"
	case Less:
		return "less"
	default:
		return "two-sided"
	}
}

// MannWhitneyResult is the outcome of a Mann-Whitney U test.
type MannWhitneyResult struct {
	// U is the statistic of x: the number of (x, y) pairs with x > y, ties counting ½.
	U float64
	// P is the p-value under the chosen alternative.
	P float64
	// Exact tells whether P comes from the exact distribution of U rather than from
	// the normal approximation.
	Exact bool
}

// ErrEmptySample is returned when either sample is empty: there is nothing to compare.
var ErrEmptySample = errors.New("mann-whitney: both samples need at least one value")

// exactLimit bounds n1*n2 for the exact distribution: its cost grows with it, and past
// it the normal approximation is as good as exact anyway.
const exactLimit = 1 << 20

// MannWhitneyU tests whether x and y come from the same distribution. It reproduces
// scipy.stats.mannwhitneyu with its defaults (method="auto", use_continuity=True): the
// exact distribution of U when there are no ties and at least one sample has at most 8
// values, otherwise the normal approximation with tie correction and continuity
// correction. NaNs must be removed by the caller.
func MannWhitneyU(x, y []float64, alt Alternative) (MannWhitneyResult, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitneyResult{}, ErrEmptySample
	}
	ranks, tieCounts := rank(append(slices.Clone(x), y...))
	var r1 float64
	for _, r := range ranks[:n1] {
		r1 += r
	}
	fn1, fn2 := float64(n1), float64(n2)
	u1 := r1 - fn1*(fn1+1)/2
	u2 := fn1*fn2 - u1

	// As SciPy: the one-sided "less" uses the survival function of U2 (by symmetry), the
	// two-sided test doubles the survival function of the larger U.
	u, factor := u1, 1.0
	switch alt {
	case Less:
		u = u2
	case TwoSided:
		u, factor = math.Max(u1, u2), 2
	}

	res := MannWhitneyResult{U: u1}
	ties := slices.ContainsFunc(tieCounts, func(t int) bool { return t > 1 })
	if !ties && (n1 <= 8 || n2 <= 8) && n1*n2 <= exactLimit {
		res.Exact = true
		res.P = exactSF(int(math.Round(u)), n1, n2)
	} else {
		res.P = normalSF(asymptoticZ(u, fn1, fn2, tieCounts))
	}
	res.P = math.Min(1, math.Max(0, res.P*factor))
	return res, nil
}

// rank returns the average (mid) ranks of v, 1-based, and the size of each group of
// tied values.
func rank(v []float64) (ranks []float64, tieCounts []int) {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	ranks = make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		mid := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = mid
		}
		tieCounts = append(tieCounts, j-i+1)
		i = j + 1
	}
	return ranks, tieCounts
}

// asymptoticZ is SciPy's _get_mwu_z: U standardised with the tie-corrected variance and
// a continuity correction of ½.
func asymptoticZ(u, n1, n2 float64, tieCounts []int) float64 {
	n := n1 + n2
	var tieTerm float64
	for _, t := range tieCounts {
		ft := float64(t)
		tieTerm += ft*ft*ft - ft
	}
	s := math.Sqrt(n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	// When every value is tied s is 0: -0.5/0 is -Inf and the p-value 1, as in SciPy.
	return (u - n1*n2/2 - 0.5) / s
}

// normalSF is the standard normal survival function.
func normalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// exactSF is P(U >= k) under the null hypothesis, for samples of sizes m and n without
// ties. The number of arrangements giving each value of U is a coefficient of the
// Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1-q^(n+i)) / (1-q^i), built one
// factor at a time. Counts are floats: rounding errors are far below a p-value's
// resolution because only their ratio to the total matters.
func exactSF(k, m, n int) float64 {
	if m > n {
		m, n = n, m // the product has fewer factors this way; U's distribution is the same
	}
	size := m*n + 1
	c := make([]float64, size)
	c[0] = 1
	for i := 1; i <= m; i++ {
		// Multiply by (1 - q^(n+i)), from the top so each coefficient is used before it changes.
		for d := size - 1; d >= n+i; d-- {
			c[d] -= c[d-n-i]
		}
		// Divide by (1 - q^i): the quotient's coefficients are running sums.
		for d := i; d < size; d++ {
			c[d] += c[d-i]
		}
	}
	if k <= 0 {
		return 1
	}
	if k >= size {
		return 0
	}
	var total, tail float64
	for d, v := range c {
		total += v
		if d >= k {
			tail += v
		}
	}
	return tail / total
}
