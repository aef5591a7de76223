//go:build unix

package haproxy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetWeightsGivesEachVersionItsShare sets 20% for one v1 server against two v2
// servers: HAProxy then sends exactly a fifth of the requests to v1, whatever the
// number of servers per version; an empty map gives the configured weights back.
func TestSetWeightsGivesEachVersionItsShare(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}, {name: "c", version: "v2"}})
	ctx := context.Background()
	url := w.hx.URL + "/healthz"
	require.Equal(t, map[string]int{"v1": 10, "v2": 20}, servedBy(t, url, 30), "equal weights: a share per server")

	require.NoError(t, w.fleet.SetWeights(ctx, map[string]int{"v1": 20, "v2": 80}))
	st, err := w.fleet.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v1": 20, "v2": 80}, st.Weights)
	require.Equal(t, map[string]int{"v1": 20, "v2": 80}, servedBy(t, url, 100))

	require.NoError(t, w.fleet.SetWeights(ctx, map[string]int{"v2": 100}))
	require.Equal(t, map[string]int{"v2": 20}, servedBy(t, url, 20), "a version left out gets nothing")

	require.ErrorContains(t, w.fleet.SetWeights(ctx, map[string]int{"v3": 10, "v2": 90}), "no serving server runs v3")

	require.NoError(t, w.fleet.SetWeights(ctx, nil))
	st, err = w.fleet.Describe(ctx)
	require.NoError(t, err)
	require.Nil(t, st.Weights)
	require.Equal(t, map[string]int{"v1": 10, "v2": 20}, servedBy(t, url, 30))
}
