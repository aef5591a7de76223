package monkey_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/bench/chaos/monkey"
	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"
)

// TestChaosShort is the short form of bench/chaos, run in CI: a good and a bad release
// under load while the worker is killed at quiet moments and right after a launch, the
// Temporal server restarts mid-soak and the local cloud daemon restarts. Both releases
// must end as they should, with the plan's launches, the desired fleet, no leak and no
// failed request outside the daemon's own restart.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev server, the local cloud, the worker and the demo service")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := t.TempDir()
	require.NoError(t, demo.Build(ctx, root, bin))
	cli, err := testharness.TemporalCLI()
	require.NoError(t, err)

	seed := time.Now().UnixNano()
	t.Logf("seed %d (rerun with this seed to see the same chaos)", seed)
	res, err := monkey.Run(ctx, monkey.Config{
		Root: root, BinDir: bin, WorkDir: t.TempDir(), TemporalCLI: cli,
		Seed: seed, Short: true, Out: testWriter{t},
	})
	t.Log("\n" + res.Markdown())
	require.NoError(t, err)
	require.NoError(t, res.Check(3))
	require.Len(t, res.Releases, 2)
	require.Equal(t, workflows.PhaseSucceeded, res.Releases[0].Got)
	require.Equal(t, workflows.PhaseRolledBack, res.Releases[1].Got)
	require.Len(t, res.Restarts, 2, "the Temporal server and the local cloud each restarted once")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
