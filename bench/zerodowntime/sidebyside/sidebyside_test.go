package sidebyside_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/bench/zerodowntime/sidebyside"
	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
)

// TestZerodownReleaseLosesNothing is the benchmark's zerodown column, shorter and at a
// lower rate: a full release of a fleet under load, through the CLI, must cost its
// users no request, no session and no update. Latency is the benchmark's business:
// timed assertions do not belong in tests on a shared machine.
func TestZerodownReleaseLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev server, the local cloud, the worker and a fleet under load")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := t.TempDir()
	require.NoError(t, demo.Build(ctx, root, bin))
	srv := testharness.StartServer(t)

	res, err := sidebyside.Run(ctx, sidebyside.Config{
		Root: root, BinDir: bin, WorkDir: t.TempDir(), Temporal: srv.Address, Spec: filepath.Join("testdata", "release.yaml"),
		Instances: 4, Rate: 150, WSClients: 20, Boards: 4,
		Warmup: 4 * time.Second, RampUp: 2 * time.Second, Cooldown: 2 * time.Second, MinRequests: 2500,
		Modes: []sidebyside.Mode{sidebyside.Zerodown}, Out: t.Output(),
	})
	require.NoError(t, err)
	t.Log("\n" + res.Markdown())

	col, ok := res.Column(sidebyside.Zerodown)
	require.True(t, ok)
	require.Equal(t, "Succeeded", col.Outcome)
	require.Equal(t, map[string]int{"v2": 4}, col.Fleet)
	require.NoError(t, col.Check(2500, 0))
	require.Positive(t, col.Window(sidebyside.ReleaseWindow).Requests, "the load ran through the release")
	require.Positive(t, col.Load.WebSocket.Reconnects, "sessions were moved off the old instances, not dropped")
	require.Positive(t, col.Load.Versions["v1"].Responses)
	require.Positive(t, col.Load.Versions["v2"].Responses)
	require.Empty(t, col.Leaked)
}
