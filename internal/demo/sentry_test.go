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

// TestDemoJudgedBySentry does what `make demo-bad-sentry` does, preceded by a good
// release: the fleet reports through sentry-go to the stand-in for Sentry, the worker
// asks its web API; v2 goes out, and v4, whose bug users never see but Sentry does,
// rolls back on its own with nobody noticing.
func TestDemoJudgedBySentry(t *testing.T) {
	d := newDemoTest(t, 5*time.Minute)
	out := &testharness.SyncBuffer{}
	opts := d.options(t, out)
	opts.Spec, opts.Releases = filepath.Join(d.root, demo.SentrySpec), []string{"v2", demo.SentryBadVersion}
	sum, err := demo.Run(d.ctx, opts)
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
