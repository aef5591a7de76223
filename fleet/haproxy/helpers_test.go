//go:build unix

package haproxy_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
	"github.com/zerodown/zerodown/schemas"
)

// VersionHeader is the header in which the demo service names its version.
const versionHeader = "X-Demoapp-Version"

func needServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a real HAProxy and demo service processes")
	}
}

// world is a real HAProxy in front of demo service processes, and the fleet of them.
type world struct {
	hx    *haproxytest.HAProxy
	demos map[string]*haproxytest.Demo
	fleet *haproxy.Fleet
	store string
}

// newWorld starts one demo process per server (name → version, with extra flags)
// and an HAProxy whose backend lists them, and the fleet of those fixed servers.
func newWorld(t *testing.T, servers []demoServer) *world {
	t.Helper()
	return newWorldWith(t, haproxytest.Config{}, servers)
}

// newWorldWith is newWorld with an HAProxy configured by cfg (its servers added); the
// fleet speaks to the master CLI when there is one.
func newWorldWith(t *testing.T, cfg haproxytest.Config, servers []demoServer) *world {
	t.Helper()
	w := &world{demos: map[string]*haproxytest.Demo{}, store: filepath.Join(t.TempDir(), "board.db")}
	var spec schemas.HAProxySpec
	for _, s := range servers {
		d := haproxytest.StartDemo(t, demoBin, "", s.version, w.store, s.args...)
		w.demos[s.name] = d
		cfg.Servers = append(cfg.Servers, haproxytest.Server{Name: s.name, Addr: d.Addr})
		spec.Servers = append(spec.Servers, schemas.HAProxyServer{Name: s.name})
	}
	w.hx = haproxytest.Start(t, cfg)
	spec.RuntimeAPI, spec.Backend = w.hx.Socket, w.hx.Backend
	if w.hx.MasterSocket != "" {
		spec.RuntimeAPI = w.hx.MasterSocket
	}
	spec.VersionPath, spec.VersionHeader = "/healthz", versionHeader
	f, err := haproxy.New(&spec, nil)
	require.NoError(t, err)
	f.Poll = 50 * time.Millisecond
	w.fleet = f
	return w
}

type demoServer struct {
	name, version string
	args          []string
}

// instance is the fleet's view of one server.
func (w *world) instance(t *testing.T, id string) fleet.Instance {
	t.Helper()
	st, err := w.fleet.Describe(context.Background())
	require.NoError(t, err)
	in, ok := st.Find(id)
	require.True(t, ok, "%s in %+v", id, st)
	return in
}

// waitInstance waits until the fleet's view of a server satisfies cond.
func (w *world) waitInstance(t *testing.T, id, what string, cond func(fleet.Instance) bool) fleet.Instance {
	t.Helper()
	var in fleet.Instance
	require.Eventually(t, func() bool {
		in = w.instance(t, id)
		return cond(in)
	}, 20*time.Second, 50*time.Millisecond, "%s never %s (last %+v)", id, what, in)
	return in
}

// get sends one request through HAProxy on a new connection and returns the version
// that served it.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(versionHeader)
}

// servedBy sends n requests through HAProxy and counts the versions that served them.
func servedBy(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		code, v := get(t, url)
		require.Equal(t, http.StatusOK, code)
		counts[v]++
	}
	return counts
}

// progress records what a fleet reports while it waits.
type progress struct {
	mu    sync.Mutex
	lines []string
}

func (p *progress) ctx(ctx context.Context) context.Context {
	return fleet.WithProgress(ctx, func(d any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.lines = append(p.lines, d.(string))
	})
}

func (p *progress) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}
