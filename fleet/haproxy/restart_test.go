//go:build unix

package haproxy_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
)

// TestRestartMidWaitCarriesOn restarts HAProxy while WaitDrained runs: the wait goes
// on through the restart (the Runtime API unreachable is progress, not an error), and
// the drain survives because the server state is saved first and loaded at start
// (load-server-state-from-file), as docs/onprem.md tells operators to do.
func TestRestartMidWaitCarriesOn(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}})
	ctx := context.Background()

	require.NoError(t, w.fleet.Maintenance(ctx, []string{"b"}))
	ws, v := dialWS(t, w.hx.URL, "restart")
	require.Equal(t, "v1", v)
	require.NoError(t, w.fleet.Attach(ctx, []string{"b"}))
	w.waitInstance(t, "b", "healthy again", func(in fleet.Instance) bool { return in.Healthy })
	require.NoError(t, w.fleet.Detach(ctx, []string{"a"}))

	var p progress
	waitCtx, cancel := context.WithTimeout(p.ctx(ctx), time.Minute)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- w.fleet.WaitDrained(waitCtx, []string{"a"}) }()
	seen := func(what string) func() bool {
		return func() bool {
			return slices.ContainsFunc(p.all(), func(l string) bool { return strings.Contains(l, what) })
		}
	}
	require.Eventually(t, seen("waiting for a (1 sessions)"), 20*time.Second, 20*time.Millisecond)

	w.hx.SaveState(t)
	w.hx.StopCurrent(t) // cuts the WebSocket too
	require.Eventually(t, seen("haproxy runtime API unreachable"), 20*time.Second, 20*time.Millisecond)
	select {
	case err := <-waited:
		t.Fatalf("WaitDrained ended while HAProxy was down: %v", err)
	default:
	}
	w.hx.StartAgain(t)
	require.NoError(t, <-waited)
	_, _, err := ws.Read(ctx)
	require.Error(t, err, "the restart cut the WebSocket")

	// The new process has the state of the old one: a drained, b in service.
	a := w.waitInstance(t, "a", "checked by the new process", func(in fleet.Instance) bool { return in.Healthy })
	require.False(t, a.Attached, "a is still drained after the restart")
	w.waitInstance(t, "b", "checked by the new process", func(in fleet.Instance) bool { return in.Healthy && in.Attached })
	require.Equal(t, map[string]int{"v2": 10}, servedBy(t, w.hx.URL+"/healthz", 10))

	// And the provider goes on driving it.
	require.NoError(t, w.fleet.Attach(ctx, []string{"a"}))
	w.waitInstance(t, "a", "attached", func(in fleet.Instance) bool { return in.Healthy && in.Attached })
	require.Equal(t, map[string]int{"v1": 5, "v2": 5}, servedBy(t, w.hx.URL+"/healthz", 10))
}

// TestReloadKeepsStateAndOldSessions reloads HAProxy the way systemd does (a new
// process, the old one told to finish with -sf): with the state saved, the new process
// keeps maintenance and weights; the old one keeps its WebSocket until it closes. The
// new process does not count the old one's sessions (docs/onprem.md says so).
func TestReloadKeepsStateAndOldSessions(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}, {name: "c", version: "v2"}})
	ctx := context.Background()

	require.NoError(t, w.fleet.Maintenance(ctx, []string{"b", "c"}))
	ws, v := dialWS(t, w.hx.URL, "reload")
	require.Equal(t, "v1", v)
	require.NoError(t, w.fleet.Attach(ctx, []string{"b"}))
	w.waitInstance(t, "b", "healthy again", func(in fleet.Instance) bool { return in.Healthy })
	require.NoError(t, w.fleet.SetWeights(ctx, map[string]int{"v1": 25, "v2": 75}))
	old := w.hx.PID()

	w.hx.Reload(t, true)
	require.NotEqual(t, old, w.hx.PID())
	require.Contains(t, w.hx.Running(), old, "the old process stays for its WebSocket")
	st, err := w.fleet.Describe(ctx)
	require.NoError(t, err)
	c, _ := st.Find("c")
	require.False(t, c.Attached, "c is still in maintenance after the reload")
	require.Equal(t, map[string]int{"v1": 25, "v2": 75}, st.Weights, "weights survive the reload")
	require.Zero(t, w.instance(t, "a").Connections, "the new process does not count the old one's sessions")

	// The old process still serves its WebSocket, then leaves once it closes.
	post(t, w.hx.URL, "reload", "after the reload")
	var change struct{ Type string }
	readJSON(t, ws, &change)
	require.Equal(t, "change", change.Type)
	require.NoError(t, ws.Close(websocket.StatusNormalClosure, "done"))
	require.Eventually(t, func() bool { return !slices.Contains(w.hx.Running(), old) }, 20*time.Second, 50*time.Millisecond)
}

// TestWithoutStateFileARestartForgetsDrains shows why the state file matters: HAProxy
// starts from its configuration, so a drained server is back in service.
func TestWithoutStateFileARestartForgetsDrains(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}})
	ctx := context.Background()
	require.NoError(t, w.fleet.Detach(ctx, []string{"a"}))
	w.hx.Restart(t, false)
	w.waitInstance(t, "a", "back in service", func(in fleet.Instance) bool { return in.Attached && in.Healthy })
}

// TestReloadThroughTheMasterCountsOldWorkersSessions runs HAProxy as Debian does
// (master-worker, a master CLI) and reloads it while a drained server holds a
// WebSocket on the old worker: through the master CLI the fleet still counts that
// session, so WaitDrained waits for it, and ends once it closes.
func TestReloadThroughTheMasterCountsOldWorkersSessions(t *testing.T) {
	needServers(t)
	w := newWorldWith(t, haproxytest.Config{MasterWorker: true}, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v2"}})
	ctx := context.Background()
	api := w.fleet.Client()
	master, err := api.IsMaster(ctx)
	require.NoError(t, err)
	require.True(t, master)

	require.NoError(t, w.fleet.Maintenance(ctx, []string{"b"}))
	ws, v := dialWS(t, w.hx.URL, "master")
	require.Equal(t, "v1", v)
	require.NoError(t, w.fleet.Attach(ctx, []string{"b"}))
	w.waitInstance(t, "b", "healthy again", func(in fleet.Instance) bool { return in.Healthy })
	require.NoError(t, w.fleet.Detach(ctx, []string{"a"}))

	w.hx.Reload(t, true)
	old, err := api.OldWorkers(ctx)
	require.NoError(t, err)
	require.Len(t, old, 1, "the old worker stays for the WebSocket")
	a := w.instance(t, "a")
	require.False(t, a.Attached, "still drained after the reload")
	require.Equal(t, 1, a.Connections, "the old worker's session is counted")
	require.Equal(t, map[string]int{"v2": 10}, servedBy(t, w.hx.URL+"/healthz", 10))

	short, cancel := context.WithTimeout(ctx, time.Second)
	err = w.fleet.WaitDrained(short, []string{"a"})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "a (1 sessions)")

	require.NoError(t, ws.Close(websocket.StatusNormalClosure, "done"))
	long, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, w.fleet.WaitDrained(long, []string{"a"}))
	require.Eventually(t, func() bool {
		old, err := api.OldWorkers(ctx)
		return err == nil && len(old) == 0
	}, 20*time.Second, 50*time.Millisecond, "the old worker leaves once its last session ends")
}
