package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/examples/demoapp/board"
	"github.com/zerodown/zerodown/internal/loadgen"
)

// TestReleaseLosesNothing plays a release by hand against two real demo instances
// behind a tiny load balancer: the old one is taken out and its WebSocket users told to
// move. The generator must see no failure, no drop and no lost update; this is the
// property the whole project exists to keep.
func TestReleaseLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "board.db")
	start := func(version string) (*board.Server, *httptest.Server) {
		st, err := board.OpenStore(path)
		require.NoError(t, err)
		srv, err := board.New(board.Config{Version: version, Store: st})
		require.NoError(t, err)
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { ts.Close(); srv.Close(); _ = st.Close() })
		return srv, ts
	}
	oldSrv, oldTS := start("v1")
	_, newTS := start("v2")

	// The load balancer round-robins new connections over its current targets.
	var targets atomic.Pointer[[]*httputil.ReverseProxy]
	proxy := func(ts *httptest.Server) *httputil.ReverseProxy {
		u, _ := url.Parse(ts.URL)
		return httputil.NewSingleHostReverseProxy(u)
	}
	both := []*httputil.ReverseProxy{proxy(oldTS), proxy(newTS)}
	targets.Store(&both)
	var next atomic.Int64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := *targets.Load()
		ts[int(next.Add(1))%len(ts)].ServeHTTP(w, r)
	}))
	defer lb.Close()

	g, err := loadgen.New(loadgen.Config{
		BaseURL: lb.URL, Rate: 100, WriteRatio: 0.5, Boards: []string{"a", "b"}, WSClients: 8,
		Settle: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	time.Sleep(500 * time.Millisecond)

	g.Mark("release-start")
	onlyNew := both[1:]
	targets.Store(&onlyNew) // detach the old instance
	oldSrv.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	moved := oldSrv.Migrate(ctx)
	cancel()
	time.Sleep(300 * time.Millisecond)
	g.Mark("release-end")
	time.Sleep(500 * time.Millisecond)
	r := g.Stop()
	t.Log("\n" + r.String())

	require.True(t, r.ZeroLoss(), r.String())
	require.Positive(t, moved, "some clients were on the old instance")
	require.Equal(t, int64(moved), r.WebSocket.Reconnects)
	require.Positive(t, r.WebSocket.Updates)
	require.Positive(t, r.Versions["v1"].Responses)
	require.Positive(t, r.Versions["v2"].Responses)
	require.Len(t, r.Windows, 2)
}
