#!/usr/bin/env python3
"""Reference values for mannwhitney_test.go, computed without SciPy (not installable here).

Exact p-values come from enumerating every way of choosing which n1 of the n1+n2 pooled
positions belong to the first sample (valid when there are no ties): the permutation
distribution of U that scipy.stats.mannwhitneyu(method="exact") uses.
Asymptotic p-values use the normal approximation with the tie correction and the 0.5
continuity correction, written out from SciPy's documentation and source
(scipy/stats/_mannwhitneyu.py, _get_mwu_z), which is what method="asymptotic" computes.

Run: python3 analysis/stats/testdata/mwu_reference.py
"""
import itertools
import math


def ranks(values):
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def u_stat(x, y):
    r = ranks(list(x) + list(y))
    return sum(r[: len(x)]) - len(x) * (len(x) + 1) / 2


def exact_sf(u, n1, n2):
    """P(U >= u) over all C(n1+n2, n1) equally likely rank assignments."""
    n = n1 + n2
    hits = total = 0
    for pos in itertools.combinations(range(1, n + 1), n1):
        total += 1
        if sum(pos) - n1 * (n1 + 1) / 2 >= u:
            hits += 1
    return hits / total


def asymptotic_sf(u, n1, n2, pooled):
    n = n1 + n2
    counts = {}
    for v in pooled:
        counts[v] = counts.get(v, 0) + 1
    tie_term = sum(t ** 3 - t for t in counts.values())
    s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    z = (u - n1 * n2 / 2 - 0.5) / s
    return 0.5 * math.erfc(z / math.sqrt(2))


def p_value(x, y, alternative, method):
    n1, n2 = len(x), len(y)
    u1 = u_stat(x, y)
    u2 = n1 * n2 - u1
    if alternative == "greater":
        u, f = u1, 1
    elif alternative == "less":
        u, f = u2, 1
    else:
        u, f = max(u1, u2), 2
    if method == "exact":
        p = exact_sf(u, n1, n2)
    else:
        p = asymptotic_sf(u, n1, n2, list(x) + list(y))
    return u1, min(1.0, p * f)


CASES = [
    # SciPy's own documentation example (males vs females).
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "two-sided", "exact"),
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "two-sided", "asymptotic"),
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "greater", "exact"),
    ([19, 22, 16, 29, 24], [20, 11, 17, 12], "less", "exact"),
    # Fully separated samples: the smallest p-value a 4 vs 5 test can reach.
    ([5.1, 6.2, 7.3, 8.4], [1.0, 2.0, 3.0, 4.0, 4.5], "greater", "exact"),
    # Unequal sizes, interleaved.
    ([1.2, 3.4, 5.6], [0.5, 2.2, 2.9, 4.1, 4.4, 6.0, 7.5], "two-sided", "exact"),
    # Ties (error rates of 0 on both sides): SciPy switches to the normal approximation.
    ([0, 0, 0.1, 0.2, 0.3, 0.25, 0.4, 0, 0.5, 0.35], [0, 0, 0, 0, 0.05, 0, 0, 0, 0, 0, 0, 0], "greater", "asymptotic"),
    # Larger samples (both above 8), no ties.
    ([float(v) for v in range(10, 30, 2)], [float(v) + 0.5 for v in range(5, 25, 2)], "two-sided", "asymptotic"),
]

if __name__ == "__main__":
    for x, y, alt, method in CASES:
        u1, p = p_value(x, y, alt, method)
        print(f"{alt:10s} {method:10s} U1={u1!r:6} p={p!r}")
