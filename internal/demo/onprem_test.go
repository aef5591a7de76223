//go:build unix

package demo_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// TestDemoOnPremEndToEnd does what `make demo LB=haproxy` does, through the zerodown CLI:
// v2 is upgraded in place on four fixed servers behind a real HAProxy under load with
// nothing lost, then the bad v3's canary fails its analysis and goes back to v2.
func TestDemoOnPremEndToEnd(t *testing.T) {
	d := newDemoTest(t, 6*time.Minute)
	out := &testharness.SyncBuffer{}
	opts := d.options(t, out)
	opts.CloudAPI, opts.LB = "", ""
	sum, err := demo.RunOnPrem(d.ctx, opts)
	t.Log("demo output:\n" + out.String())
	require.NoError(t, err)
	require.Len(t, sum.Releases, 2)
	good, bad := sum.Releases[0], sum.Releases[1]
	require.Equal(t, workflows.PhaseSucceeded, good.Phase)
	require.Equal(t, map[string]int{"v2": 4}, good.Fleet)
	require.Equal(t, workflows.PhaseRolledBack, bad.Phase)
	require.Contains(t, bad.Error, "canary failed 2 check(s)")
	require.Equal(t, map[string]int{"v2": 4}, bad.Fleet, "the canary is back on v2")

	l := sum.Load
	require.NotNil(t, l)
	require.Zero(t, l.Failed, "failures: %+v %q", l.Failures, l.FailureSamples)
	require.Zero(t, l.WebSocket.Dropped)
	require.Zero(t, l.WebSocket.Lost)
	require.Empty(t, sum.Leaked)
	require.Contains(t, out.String(), "in place on 4 server(s)")
}
