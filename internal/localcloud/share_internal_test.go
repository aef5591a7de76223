package localcloud

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// Every run of 100 consecutive picks (the sum of the weights) holds exactly each
// version's weight, wherever the run starts: the round robin repeats with that period.
func TestRotationIsExactInEveryWindow(t *testing.T) {
	for _, canary := range []int{1, 5, 25, 50, 99} {
		weights := map[string]int{"v1": 100 - canary, "v2": canary}
		var r versionRotation
		var seq []string
		for range 1000 {
			seq = append(seq, r.next(weights, []string{"v1", "v2"}))
		}
		for start := 0; start+100 <= len(seq); start++ {
			n := 0
			for _, v := range seq[start : start+100] {
				if v == "v2" {
					n++
				}
			}
			require.Equal(t, canary, n, "canary at %d%%, window from pick %d", canary, start)
		}
	}
}

// As the canary's share grows, the buckets it holds only grow: no user of the canary is
// sent back to stable by a larger step, and each version holds exactly its share of
// buckets.
func TestBucketsOfAGrowingCanaryOnlyGrow(t *testing.T) {
	for _, names := range [][2]string{{"v1", "v2"}, {"v9", "v10"}} { // the canary sorts after, then before
		stable, canary := names[0], names[1]
		cands := []*instance{
			newInstance(record{ID: "a", Version: stable}), newInstance(record{ID: "b", Version: stable}),
			newInstance(record{ID: "c", Version: canary}),
		}
		prev := map[int]bool{}
		for _, share := range []int{1, 5, 25, 50} {
			layout := bucketLayout(cands, map[string]int{stable: 100 - share, canary: share})
			now := map[int]bool{}
			for b := range api.Buckets {
				if versionOfBucket(layout, b) == canary {
					now[b] = true
				}
			}
			require.Len(t, now, share*api.Buckets/100, "%s at %d%% holds its share of buckets", canary, share)
			for b := range prev {
				require.True(t, now[b], "bucket %d left %s when its share grew to %d%%", b, canary, share)
			}
			for range 100 {
				require.Equal(t, canary, versionOfBucket(layout, bucketIn(layout, canary)), "a new user placed on %s gets one of its buckets", canary)
			}
			prev = now
		}
		layout := bucketLayout(cands, map[string]int{stable: 100, canary: 0})
		for b := range api.Buckets {
			require.Equal(t, stable, versionOfBucket(layout, b), "a canary at 0 % holds no bucket")
		}
	}
}
