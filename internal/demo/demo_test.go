package demo_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// TestDemoEndToEnd does what `make demo` and `make demo-bad` do, on free ports and
// through the zerodown CLI: a release to v2 under load succeeds with nothing lost, then
// the bad v3 rolls back on its own and v2 keeps serving; nothing is left running.
func TestDemoEndToEnd(t *testing.T) {
	d := newDemoTest(t, 5*time.Minute)
	out := &testharness.SyncBuffer{}
	sum, err := demo.Run(d.ctx, d.options(t, out))
	t.Log("demo output:\n" + out.String())
	require.NoError(t, err)
	require.Len(t, sum.Releases, 2)

	good, bad := sum.Releases[0], sum.Releases[1]
	require.Equal(t, workflows.PhaseSucceeded, good.Phase)
	require.Equal(t, 0, good.ExitCode)
	require.Equal(t, map[string]int{"v2": 4}, good.Fleet)

	require.Equal(t, workflows.PhaseRolledBack, bad.Phase)
	require.Equal(t, 5, bad.ExitCode, "CI reads rolled back as exit 5")
	require.Contains(t, bad.Error, "canary failed 2 check(s)")
	require.Equal(t, map[string]int{"v2": 4}, bad.Fleet, "the old version serves again")

	l := sum.Load
	require.NotNil(t, l)
	require.Greater(t, l.Requests, int64(1000))
	require.Zero(t, l.Failed, "failures: %+v %q", l.Failures, l.FailureSamples)
	require.Zero(t, l.WebSocket.Dropped)
	require.Zero(t, l.WebSocket.Lost)
	require.Empty(t, sum.Leaked)
	require.Contains(t, out.String(), "nobody noticed")
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
