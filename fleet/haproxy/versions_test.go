//go:build unix

package haproxy_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/schemas"
)

// TestVersionsOfFixedServers: HAProxy knows no versions. A server that answers
// versionPath says its own; otherwise the version recorded at deploy time is used.
func TestVersionsOfFixedServers(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}})
	ctx := context.Background()
	require.Equal(t, "v1", w.instance(t, "a").Version, "asked of the server at versionPath")

	spec := &schemas.HAProxySpec{
		RuntimeAPI: w.hx.Socket, Backend: w.hx.Backend,
		Servers:     []schemas.HAProxyServer{{Name: "a"}, {Name: "b"}},
		VersionFile: filepath.Join(t.TempDir(), "versions.json"),
	}
	recorded, err := haproxy.New(spec, nil)
	require.NoError(t, err)
	st, err := recorded.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"": 2}, st.ByVersion(), "nothing recorded yet: unknown")

	require.NoError(t, recorded.RecordVersion(ctx, "a", "v2"))
	require.NoError(t, recorded.RecordVersion(ctx, "b", "v1"))
	require.NoError(t, recorded.RecordVersion(ctx, "b", "v2"))
	again, err := haproxy.New(spec, nil) // another worker reading the same file
	require.NoError(t, err)
	st, err = again.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 2}, st.ByVersion())

	require.ErrorIs(t, recorded.RecordVersion(ctx, "c", "v2"), fleet.ErrNotFound)
	require.ErrorIs(t, recorded.RecordVersion(ctx, "a", "<html>"), fleet.ErrInvalidConfig)
	require.ErrorContains(t, w.fleet.RecordVersion(ctx, "a", "v2"), "versionFile is not set")
}
