//go:build unix

package demo_test

import (
	"context"
	"path/filepath"
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
	if testing.Short() {
		t.Skip("starts the dev server, HAProxy and the demo service")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := t.TempDir()
	require.NoError(t, demo.Build(ctx, root, bin))
	srv := testharness.StartServer(t)

	out := &testharness.SyncBuffer{}
	sum, err := demo.RunOnPrem(ctx, demo.Options{
		Root: root, BinDir: bin, WorkDir: t.TempDir(), Temporal: srv.Address,
		Releases: []string{"v2", "v3"}, ApproveAfter: time.Second,
		Rate: 40, WSClients: 4, Out: out,
	})
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
