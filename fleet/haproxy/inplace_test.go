//go:build unix

package haproxy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
	"github.com/zerodown/zerodown/internal/loadgen"
)

// TestInPlaceUpgradeByHandLosesNothing upgrades three fixed servers one at a time
// under load, with the steps the in-place release mode is to take, through the
// provider alone: drain, move the WebSockets, wait drained, maintenance, replace the
// process on the same address, drain (checks run, no traffic), wait healthy by
// HAProxy's checks, ready. Users lose nothing: no failed request, no dropped session,
// no missed update.
func TestInPlaceUpgradeByHandLosesNothing(t *testing.T) {
	needServers(t)
	names := []string{"web1", "web2", "web3"}
	var servers []demoServer
	// Like most services, these close their WebSockets on SIGTERM without telling the
	// clients where to go: only the release's own migration keeps the sessions.
	naive := []string{"--migrate-on-sigterm=false"}
	for _, n := range names {
		servers = append(servers, demoServer{name: n, version: "v1", args: naive})
	}
	w := newWorld(t, servers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	g, err := loadgen.New(loadgen.Config{
		BaseURL: w.hx.URL, Rate: 100, WriteRatio: 0.3, WSClients: 12,
		Boards: []string{"a", "b", "c"}, Settle: time.Second,
	})
	require.NoError(t, err)
	require.NoError(t, g.Start(ctx))
	stopped := false
	defer func() {
		if !stopped {
			g.Stop()
		}
	}()
	time.Sleep(time.Second) // a steady second before the release

	g.Mark("upgrade")
	for _, name := range names {
		ids := []string{name}
		require.NoError(t, w.fleet.Drain(ctx, ids))
		resp, err := http.Post("http://"+w.demos[name].Addr+"/admin/migrate", "", nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.NoError(t, w.fleet.WaitDrained(ctx, ids))
		require.NoError(t, w.fleet.Maintenance(ctx, ids))

		// The deploy: the process on this address is replaced by the new version.
		require.NoError(t, w.demos[name].Stop())
		w.demos[name] = haproxytest.StartDemo(t, demoBin, w.demos[name].Addr, "v2", w.store, naive...)

		require.NoError(t, w.fleet.Drain(ctx, ids))
		require.NoError(t, w.fleet.WaitHealthy(ctx, ids))
		require.NoError(t, w.fleet.Ready(ctx, ids))
	}
	g.Mark("upgraded")
	time.Sleep(time.Second)
	r := g.Stop()
	stopped = true
	t.Log("\n" + r.String())

	st, err := w.fleet.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 3}, st.ByVersion())
	for _, in := range st.Instances {
		require.True(t, in.Attached && in.Healthy, "%+v", in)
	}
	require.True(t, r.ZeroLoss(), r.String())
	require.Positive(t, r.Versions["v1"].Responses)
	require.Positive(t, r.Versions["v2"].Responses)
	require.Positive(t, r.WebSocket.Reconnects, "sessions moved off the servers being upgraded")
}
