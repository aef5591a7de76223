//go:build unix

package haproxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
)

// dialWS opens a WebSocket following board through HAProxy and returns it with the
// version that accepted it, after its hello.
func dialWS(t *testing.T, base, board string) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, strings.Replace(base, "http://", "ws://", 1)+"/ws?board="+board, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CloseNow() })
	var hello struct{ Type string }
	readJSON(t, c, &hello)
	require.Equal(t, "hello", hello.Type)
	return c, resp.Header.Get(versionHeader)
}

func readJSON(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// post creates an item on a board through HAProxy.
func post(t *testing.T, base, board, text string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := c.Post(base+"/api/boards/"+board+"/items", "application/json", strings.NewReader(`{"text":"`+text+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// TestDrainLetsSessionsFinishAndWaitDrainedFollowsThem drains a server holding a slow
// request and a WebSocket: the request completes on it, the WebSocket keeps receiving
// changes, no new request reaches it, and WaitDrained waits exactly as long as
// HAProxy counts a session on it.
func TestDrainLetsSessionsFinishAndWaitDrainedFollowsThem(t *testing.T) {
	needServers(t)
	// a (v1) answers its API requests after 2s: a request stays in flight long enough.
	w := newWorld(t, []demoServer{
		{name: "a", version: "v1", args: []string{"--latency", "2s"}},
		{name: "b", version: "v2"},
	})
	ctx := context.Background()

	// Only a serves while the sessions open, so they land on it.
	require.NoError(t, w.fleet.Maintenance(ctx, []string{"b"}))
	ws, wsVersion := dialWS(t, w.hx.URL, "drain")
	require.Equal(t, "v1", wsVersion)
	slow := make(chan string, 1)
	go func() {
		code, v := get(t, w.hx.URL+"/api/boards/drain/items")
		if code != http.StatusOK {
			v = "failed: " + http.StatusText(code)
		}
		slow <- v
	}()
	w.waitInstance(t, "a", "holding the WebSocket and the request", func(in fleet.Instance) bool { return in.Connections == 2 })
	require.NoError(t, w.fleet.Attach(ctx, []string{"b"}))
	w.waitInstance(t, "b", "healthy and attached again", func(in fleet.Instance) bool { return in.Healthy && in.Attached })

	require.NoError(t, w.fleet.Detach(ctx, []string{"a"}))
	a := w.instance(t, "a")
	require.False(t, a.Attached)
	require.True(t, a.Draining)
	require.True(t, a.Healthy, "a drained server is still checked, and healthy")

	// No new session reaches a, while its own go on.
	require.Equal(t, map[string]int{"v2": 20}, servedBy(t, w.hx.URL+"/healthz", 20))
	require.Equal(t, "v1", <-slow, "the in-flight request finished on the drained server")
	post(t, w.hx.URL, "drain", "after the drain")
	var change struct {
		Type string
		Item struct{ Text string }
	}
	readJSON(t, ws, &change)
	require.Equal(t, "change", change.Type)
	require.Equal(t, "after the drain", change.Item.Text, "the WebSocket on the drained server still gets changes")

	// WaitDrained follows HAProxy's session count: the open WebSocket holds it.
	var p progress
	short, cancel := context.WithTimeout(p.ctx(ctx), time.Second)
	err := w.fleet.WaitDrained(short, []string{"a"})
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "a (1 sessions)")
	require.Contains(t, p.all(), "0/1 drained; waiting for a (1 sessions)")

	require.NoError(t, ws.Close(websocket.StatusNormalClosure, "done"))
	long, cancel := context.WithTimeout(p.ctx(ctx), 20*time.Second)
	defer cancel()
	require.NoError(t, w.fleet.WaitDrained(long, []string{"a"}))
	require.Zero(t, w.instance(t, "a").Connections)
	require.Equal(t, "1/1 drained", p.all()[len(p.all())-1])

	// A server still in service is not waited for: it would never drain.
	require.ErrorContains(t, w.fleet.WaitDrained(ctx, []string{"b"}), "b is still in service")
}
