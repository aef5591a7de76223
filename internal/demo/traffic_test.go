package demo_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// TestDemoTrafficSteps does what `make demo-traffic` and `make demo-traffic-bad` do: a
// stepped release of v2 under load in which each step's measured share of requests is
// the asked one within 1 point, then the bad v3 taken back to 0 % and rolled back, with
// nothing lost by any user.
func TestDemoTrafficSteps(t *testing.T) {
	d := newDemoTest(t, 6*time.Minute)
	out := &testharness.SyncBuffer{}
	opts := d.options(t, out)
	opts.Spec, opts.Rate = filepath.Join(d.root, demo.TrafficSpec), 50
	sum, err := demo.Run(d.ctx, opts)
	t.Log("demo output:\n" + out.String())
	require.NoError(t, err)
	require.Len(t, sum.Releases, 2)
	require.Equal(t, workflows.PhaseSucceeded, sum.Releases[0].Phase)
	require.Equal(t, workflows.PhaseRolledBack, sum.Releases[1].Phase)
	require.Equal(t, map[string]int{"v2": 4}, sum.Releases[1].Fleet)

	var asked []int
	for _, st := range sum.Steps {
		if st.Version != "v2" {
			continue
		}
		asked = append(asked, st.Asked)
		// The balancer's rotation is exact over every 100 requests, so a step of a few
		// hundred requests is off only by the handful in flight when it began or ended.
		require.InDelta(t, float64(st.Asked), st.Measured, 1, "step %d%%: %.2f%% of %d requests", st.Asked, st.Measured, st.Requests)
		require.Greater(t, st.Requests, int64(200))
	}
	require.Equal(t, []int{1, 5, 25, 50}, asked)
	require.Contains(t, out.String(), "traffic step: v2 asked 25%")

	l := sum.Load
	require.Zero(t, l.Failed, "failures: %+v %q", l.Failures, l.FailureSamples)
	require.Zero(t, l.WebSocket.Dropped)
	require.Zero(t, l.WebSocket.Lost)
	require.Empty(t, sum.Leaked)
}
