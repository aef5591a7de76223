package haproxy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServerWeightsAreExactPerVersion(t *testing.T) {
	for _, tc := range []struct {
		name           string
		shares, counts map[string]int
		want           map[string]int
		exact          bool
	}{
		{"one canary among four", map[string]int{"v2": 10, "v1": 90}, map[string]int{"v2": 1, "v1": 4}, map[string]int{"v2": 4, "v1": 9}, true},
		{"two against three", map[string]int{"v2": 50, "v1": 50}, map[string]int{"v2": 2, "v1": 3}, map[string]int{"v2": 3, "v1": 2}, true},
		{"relative shares", map[string]int{"v2": 1, "v1": 3}, map[string]int{"v2": 1, "v1": 1}, map[string]int{"v2": 1, "v1": 3}, true},
		{"left out", map[string]int{"v2": 100, "v1": 0}, map[string]int{"v2": 2, "v1": 2}, map[string]int{"v2": 1, "v1": 0}, true},
		// 1% on one server against 99% on 7: 7 and 99 per server, within 256.
		{"one percent", map[string]int{"v2": 1, "v1": 99}, map[string]int{"v2": 1, "v1": 7}, map[string]int{"v2": 7, "v1": 99}, true},
		// 1% on 1 against 99% on 997 servers needs 997 against 99: beyond 256, approximated.
		{"beyond 256", map[string]int{"v2": 1, "v1": 99}, map[string]int{"v2": 1, "v1": 997}, map[string]int{"v2": 256, "v1": 25}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, exact, err := serverWeights(tc.shares, tc.counts)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.exact, exact)
			for _, w := range got {
				require.LessOrEqual(t, w, MaxWeight)
			}
		})
	}
	_, _, err := serverWeights(map[string]int{"v2": 10}, map[string]int{"v1": 3})
	require.ErrorContains(t, err, "no serving server runs v2")
	_, _, err = serverWeights(map[string]int{"v2": 0}, map[string]int{"v2": 3})
	require.ErrorContains(t, err, "every weight is 0")
	_, _, err = serverWeights(map[string]int{"v2": 101}, map[string]int{"v2": 3})
	require.ErrorContains(t, err, "not a percentage")
}
