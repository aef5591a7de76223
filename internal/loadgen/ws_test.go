package loadgen_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/loadgen"
)

// fakeBoard speaks the demo service's WebSocket protocol, one scripted session at a
// time, so each test decides exactly how the server misbehaves.
type fakeBoard struct {
	t      *testing.T
	head   atomic.Int64
	since  chan int64 // the since= of each session, in order
	script []func(c *websocket.Conn)
	n      atomic.Int64
}

func newFakeBoard(t *testing.T, script ...func(c *websocket.Conn)) (*fakeBoard, *httptest.Server) {
	fb := &fakeBoard{t: t, since: make(chan int64, 10), script: script}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/boards/{board}/items", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"board":%q,"seq":%d,"items":[]}`, r.PathValue("board"), fb.head.Load())
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		n := int(fb.n.Add(1) - 1)
		since, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if err != nil || n >= len(fb.script) {
			http.Error(w, "no such session", http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		fb.since <- since
		fb.script[n](c)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return fb, ts
}

func send(c *websocket.Conn, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Write(ctx, websocket.MessageText, []byte(msg))
}

func change(c *websocket.Conn, seq int64) {
	send(c, fmt.Sprintf(`{"type":"change","board":"loadgen","seq":%d,"item":{"id":%d}}`, seq, seq))
}

// hold keeps the session open until the client leaves.
func hold(c *websocket.Conn) { _, _, _ = c.Read(context.Background()) }

func follow(t *testing.T, url string, until func(*loadgen.WebSocketReport) bool) *loadgen.Report {
	t.Helper()
	g, err := loadgen.New(loadgen.Config{BaseURL: url, WSClients: 1, Settle: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	require.Eventually(t, func() bool { return until(g.Report().WebSocket) }, 5*time.Second, 10*time.Millisecond)
	r := g.Stop()
	t.Log("\n" + r.String())
	return r
}

func TestWebSocketGapsCountAsLostUpdates(t *testing.T) {
	var fb *fakeBoard
	fb, ts := newFakeBoard(t, func(c *websocket.Conn) {
		send(c, `{"type":"hello","seq":0}`)
		fb.head.Store(6) // 5 and 6 are never sent: lost after the settle time
		change(c, 1)
		change(c, 2)
		change(c, 4) // 3 never arrives
		change(c, 4) // and 4 arrives twice
		hold(c)
	})
	r := follow(t, ts.URL, func(ws *loadgen.WebSocketReport) bool { return ws.Updates+ws.Duplicates == 4 })
	ws := r.WebSocket
	require.Equal(t, int64(0), <-fb.since)
	require.Equal(t, int64(3), ws.Updates)
	require.Equal(t, int64(1), ws.Duplicates)
	require.Equal(t, int64(3), ws.Lost, "seq 3 in a gap, 5 and 6 at the tail")
	require.Equal(t, map[string]int64{"loadgen": 6}, ws.FinalSeq)
	require.Equal(t, int64(1), ws.Sessions)
	require.Zero(t, ws.Dropped)
	require.False(t, r.ZeroLoss())
}

func TestWebSocketReconnectInstructionIsNotADrop(t *testing.T) {
	var fb *fakeBoard
	fb, ts := newFakeBoard(t,
		func(c *websocket.Conn) {
			fb.head.Store(2)
			change(c, 1)
			send(c, `{"type":"reconnect","seq":1}`)
			_ = c.Close(websocket.StatusNormalClosure, "reconnect")
		},
		func(c *websocket.Conn) {
			change(c, 2)
			hold(c)
		})
	r := follow(t, ts.URL, func(ws *loadgen.WebSocketReport) bool { return ws.Updates == 2 })
	require.Equal(t, int64(0), <-fb.since)
	require.Equal(t, int64(1), <-fb.since, "reconnects with the seq the server gave")
	ws := r.WebSocket
	require.Equal(t, int64(2), ws.Sessions)
	require.Equal(t, int64(1), ws.Reconnects)
	require.Zero(t, ws.Dropped)
	require.Zero(t, ws.Lost)
	require.True(t, r.ZeroLoss())
}

func TestWebSocketCloseWithoutInstructionIsADrop(t *testing.T) {
	var fb *fakeBoard
	fb, ts := newFakeBoard(t,
		func(c *websocket.Conn) {
			fb.head.Store(3)
			change(c, 1)
			_ = c.CloseNow() // abrupt: no close frame
		},
		func(c *websocket.Conn) {
			change(c, 2)
			_ = c.Close(websocket.StatusNormalClosure, "") // clean, but nobody said reconnect
		},
		func(c *websocket.Conn) {
			change(c, 3)
			hold(c)
		})
	r := follow(t, ts.URL, func(ws *loadgen.WebSocketReport) bool { return ws.Updates == 3 })
	require.Equal(t, []int64{0, 1, 2}, []int64{<-fb.since, <-fb.since, <-fb.since}, "resumes from the last seq seen")
	ws := r.WebSocket
	require.Equal(t, int64(3), ws.Sessions)
	require.Equal(t, int64(2), ws.Dropped)
	require.Zero(t, ws.Reconnects)
	require.Zero(t, ws.Lost, "the client still got everything")
	require.False(t, r.ZeroLoss(), "a dropped session is a loss for the user")
}
