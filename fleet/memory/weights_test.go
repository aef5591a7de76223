package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/memory"
)

// The history is what a workflow test asserts: every share set, in order, and the
// return to the equal share on exit.
func TestWeightsHistoryRecordsEveryShareInOrder(t *testing.T) {
	ctx := context.Background()
	f := memory.New()
	f.Seed("v1", 2)
	steps := []map[string]int{{"v1": 99, "v2": 1}, {"v1": 95, "v2": 5}, {"v1": 100, "v2": 0}, {}}
	for _, w := range steps {
		require.NoError(t, f.SetWeights(ctx, w))
	}
	steps[0]["v2"] = 42 // the caller's map is not the fleet's
	require.Equal(t, []map[string]int{{"v1": 99, "v2": 1}, {"v1": 95, "v2": 5}, {"v1": 100, "v2": 0}, {}}, f.WeightsHistory())

	st, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Empty(t, st.Weights, "the empty map restored the equal share")

	require.ErrorContains(t, f.SetWeights(ctx, map[string]int{"v2": -1}), `"v2"`)
	require.Len(t, f.WeightsHistory(), 4, "a refused map is not recorded")
}
