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

// TestDemoJudgedBySentry does what `make demo-bad-sentry` does, preceded by a good
// release: the fleet reports through sentry-go to the stand-in for Sentry, the worker
// asks its web API; v2 goes out, and v4, whose bug users never see but Sentry does,
// rolls back on its own with nobody noticing.
func TestDemoJudgedBySentry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev server, the local cloud and the demo service")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	require.NoError(t, demo.Build(ctx, root, bin))
	srv := testharness.StartServer(t)

	out := &testharness.SyncBuffer{}
	sum, err := demo.Run(ctx, demo.Options{
		Root: root, BinDir: bin, WorkDir: t.TempDir(), Spec: filepath.Join(root, demo.SentrySpec),
		Temporal: srv.Address, CloudAPI: freeAddr(t), LB: freeAddr(t),
		Releases: []string{"v2", demo.SentryBadVersion}, ApproveAfter: time.Second,
		Rate: 40, WSClients: 4, Out: out,
	})
	t.Log("demo output:\n" + out.String())
	require.NoError(t, err)
	require.Len(t, sum.Releases, 2)

	good, bad := sum.Releases[0], sum.Releases[1]
	require.Equal(t, workflows.PhaseSucceeded, good.Phase, good.Error)
	require.Equal(t, map[string]int{"v2": 4}, good.Fleet)

	require.Equal(t, workflows.PhaseRolledBack, bad.Phase)
	require.Equal(t, 5, bad.ExitCode)
	require.Contains(t, bad.Error, "new-issues: canary 1 > max 0")
	require.Equal(t, map[string]int{"v2": 4}, bad.Fleet, "the old version serves again")

	require.Contains(t, out.String(), "first seen in v4")
	require.NotContains(t, out.String(), "sntrys_demo_", "the token stays out of what the demo shows")
	l := sum.Load
	require.NotNil(t, l)
	require.Zero(t, l.Failed, "the bug is invisible to users: %+v %q", l.Failures, l.FailureSamples)
	require.Empty(t, sum.Leaked)
}
