package board_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/examples/demoapp/board"
)

// instance is one in-process demoapp. Each opens the store on its own, as separate
// processes would, so they share nothing but the file.
type instance struct {
	srv *board.Server
	ts  *httptest.Server
}

func startInstance(t *testing.T, path string, cfg board.Config) *instance {
	t.Helper()
	st, err := board.OpenStore(path)
	require.NoError(t, err)
	if cfg.Version == "" {
		cfg.Version = "v1"
	}
	cfg.Store = st
	srv, err := board.New(cfg)
	require.NoError(t, err)
	return serve(t, srv, st)
}

// serve serves srv until the test ends, then closes it and its store.
func serve(t *testing.T, srv *board.Server, st *board.Store) *instance {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
		require.NoError(t, st.Close())
	})
	return &instance{srv: srv, ts: ts}
}

func storePath(t *testing.T) string { return filepath.Join(t.TempDir(), "board.db") }

func do(t *testing.T, method, url string, body any) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func create(t *testing.T, in *instance, boardName, text string) board.Item {
	t.Helper()
	resp, b := do(t, http.MethodPost, in.ts.URL+"/api/boards/"+boardName+"/items", map[string]string{"text": text})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var it board.Item
	require.NoError(t, json.Unmarshal(b, &it))
	return it
}

func list(t *testing.T, in *instance, boardName string) board.ItemList {
	t.Helper()
	resp, b := do(t, http.MethodGet, in.ts.URL+"/api/boards/"+boardName+"/items", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var l board.ItemList
	require.NoError(t, json.Unmarshal(b, &l))
	return l
}

func TestAPIAcrossInstances(t *testing.T) {
	path := storePath(t)
	a := startInstance(t, path, board.Config{Version: "v1"})
	b := startInstance(t, path, board.Config{Version: "v2"})

	first := create(t, a, "team", "hello")
	require.Equal(t, int64(1), first.Seq)
	require.Equal(t, "v1", first.Version)
	second := create(t, b, "team", "world")
	require.Equal(t, int64(2), second.Seq, "seq is per board and shared by instances")
	require.Equal(t, int64(1), create(t, b, "other", "x").Seq, "each board has its own seq")

	l := list(t, a, "team")
	require.Equal(t, int64(2), l.Seq)
	require.Len(t, l.Items, 2)
	require.Equal(t, "world", l.Items[0].Text, "newest first")

	resp, body := do(t, http.MethodPut, fmt.Sprintf("%s/api/boards/team/items/%d", b.ts.URL, first.ID), map[string]string{"text": "hello again"})
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "v2", resp.Header.Get(board.VersionHeader))
	var updated board.Item
	require.NoError(t, json.Unmarshal(body, &updated))
	require.Equal(t, int64(3), updated.Seq, "an update is a change and takes the next seq")
	require.Equal(t, first.ID, updated.ID)

	l = list(t, a, "team")
	require.Equal(t, int64(3), l.Seq)
	require.Equal(t, "hello again", l.Items[0].Text)
	require.Equal(t, "v2", l.Items[0].Version)

	resp, _ = do(t, http.MethodPut, b.ts.URL+"/api/boards/team/items/999", map[string]string{"text": "x"})
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = do(t, http.MethodPost, a.ts.URL+"/api/boards/team/items", map[string]int{"nope": 1})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, a.ts.URL+"/api/boards/bad%20name/items", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, int64(3), list(t, b, "team").Seq, "failed writes leave no hole in the seq")
}

func TestConcurrentWritersGetDistinctSeqs(t *testing.T) {
	path := storePath(t)
	a := startInstance(t, path, board.Config{})
	b := startInstance(t, path, board.Config{})
	const perInstance = 20
	// Writers run in goroutines, which must not call require: they report instead.
	type result struct {
		seq int64
		err error
	}
	results := make(chan result, 2*perInstance)
	for _, in := range []*instance{a, b} {
		go func() {
			for i := range perInstance {
				resp, err := http.Post(in.ts.URL+"/api/boards/race/items", "application/json", strings.NewReader(fmt.Sprintf(`{"text":"%d"}`, i)))
				if err != nil {
					results <- result{err: err}
					continue
				}
				var it board.Item
				err = json.NewDecoder(resp.Body).Decode(&it)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				results <- result{it.Seq, err}
			}
		}()
	}
	seen := map[int64]bool{}
	for range 2 * perInstance {
		r := <-results
		require.NoError(t, r.err)
		require.False(t, seen[r.seq], "seq %d handed out twice", r.seq)
		seen[r.seq] = true
	}
	for s := int64(1); s <= 2*perInstance; s++ {
		require.True(t, seen[s], "seq %d missing", s)
	}
}

func dialWS(t *testing.T, in *instance, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.ts.URL, "http")+"/ws?"+query, nil)
	require.NoError(t, err)
	require.Equal(t, in.srv != nil, resp.Header.Get(board.VersionHeader) != "")
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func readMsg(t *testing.T, c *websocket.Conn) board.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var m board.Message
	require.NoError(t, wsjson.Read(ctx, c, &m))
	return m
}

func TestWebSocketReplaysSinceThenStreamsLive(t *testing.T) {
	path := storePath(t)
	a := startInstance(t, path, board.Config{})
	b := startInstance(t, path, board.Config{})
	for i := range 5 {
		create(t, a, "ws", fmt.Sprint("item ", i))
	}
	c := dialWS(t, a, "board=ws&since=2")
	hello := readMsg(t, c)
	require.Equal(t, "hello", hello.Type)
	require.Equal(t, int64(2), hello.Seq)
	for want := int64(3); want <= 5; want++ {
		m := readMsg(t, c)
		require.Equal(t, "change", m.Type)
		require.Equal(t, want, m.Seq)
		require.Equal(t, "create", m.Op)
		require.Equal(t, fmt.Sprint("item ", want-1), m.Item.Text)
	}
	// A write through the other instance reaches this client through the store poll.
	it := create(t, b, "ws", "from b")
	m := readMsg(t, c)
	require.Equal(t, int64(6), m.Seq)
	require.Equal(t, it.ID, m.Item.ID)
	require.Equal(t, "v1", m.Item.Version)
	create(t, a, "other", "not for this client")
	create(t, b, "ws", "next")
	require.Equal(t, int64(7), readMsg(t, c).Seq, "changes of other boards are not sent")

	// Without since, the stream starts at the head.
	c2 := dialWS(t, b, "board=ws")
	require.Equal(t, int64(7), readMsg(t, c2).Seq)
	create(t, a, "ws", "eight")
	require.Equal(t, int64(8), readMsg(t, c2).Seq)
}

func TestMigrateSendsReconnectWithLastSeq(t *testing.T) {
	path := storePath(t)
	a := startInstance(t, path, board.Config{})
	b := startInstance(t, path, board.Config{Version: "v2"})
	c := dialWS(t, a, "board=mig&since=0")
	require.Equal(t, "hello", readMsg(t, c).Type)
	for i := range 3 {
		create(t, b, "mig", fmt.Sprint(i))
		require.Equal(t, int64(i+1), readMsg(t, c).Seq)
	}
	// /admin/migrate answers once its clients are gone, so read while it runs.
	type answer struct {
		code int
		body string
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(a.ts.URL+"/admin/migrate", "", nil)
		if err != nil {
			answered <- answer{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(b)}
	}()
	m := readMsg(t, c)
	require.Equal(t, "reconnect", m.Type)
	require.Equal(t, int64(3), m.Seq)
	_, _, err := c.Read(context.Background())
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
	got := <-answered
	require.Equal(t, http.StatusOK, got.code, got.body)
	require.JSONEq(t, `{"migrated":1,"version":"v1"}`, got.body)

	// A change made while the client moves is replayed by the new instance.
	create(t, a, "mig", "while moving")
	c2 := dialWS(t, b, fmt.Sprintf("board=mig&since=%d", m.Seq))
	require.Equal(t, "hello", readMsg(t, c2).Type)
	moved := readMsg(t, c2)
	require.Equal(t, int64(4), moved.Seq)
	require.Equal(t, "while moving", moved.Item.Text)
}

func TestErrorRateFault(t *testing.T) {
	in := startInstance(t, storePath(t), board.Config{ErrorRate: 0.3})
	const n = 400
	failed := 0
	for range n {
		resp, _ := do(t, http.MethodGet, in.ts.URL+"/api/boards/f/items", nil)
		switch resp.StatusCode {
		case http.StatusInternalServerError:
			failed++
		case http.StatusOK:
		default:
			t.Fatalf("unexpected status %d", resp.StatusCode)
		}
	}
	// Binomial(400, 0.3) has sd ~9.2: 0.2..0.4 is more than 4 sd either side.
	require.InDelta(t, 0.3, float64(failed)/n, 0.1, "failed %d of %d", failed, n)

	resp, _ := do(t, http.MethodGet, in.ts.URL+"/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "error rate does not touch health")
}

func TestHealthAndLatencyFaults(t *testing.T) {
	path := storePath(t)
	healthy := startInstance(t, path, board.Config{Version: "v1"})
	resp, body := do(t, http.MethodGet, healthy.ts.URL+"/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok v1\n", string(body))

	sick := startInstance(t, path, board.Config{Version: "v2", FailHealth: true})
	resp, _ = do(t, http.MethodGet, sick.ts.URL+"/healthz", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "v2", resp.Header.Get(board.VersionHeader))

	// A version that goes bad while it soaks: healthy first, then 503.
	leaky := startInstance(t, path, board.Config{Version: "v3", UnhealthyAfter: 100 * time.Millisecond})
	resp, _ = do(t, http.MethodGet, leaky.ts.URL+"/healthz", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp, _ := do(t, http.MethodGet, leaky.ts.URL+"/healthz", nil)
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 5*time.Second, 20*time.Millisecond)

	slow := startInstance(t, path, board.Config{Latency: 150 * time.Millisecond})
	start := time.Now()
	resp, _ = do(t, http.MethodGet, slow.ts.URL+"/api/boards/s/items", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	healthy.srv.Drain()
	resp, body = do(t, http.MethodGet, healthy.ts.URL+"/healthz", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "draining v1\n", string(body))
}

func TestMetricsCarryVersion(t *testing.T) {
	in := startInstance(t, storePath(t), board.Config{Version: "v9"})
	create(t, in, "m", "x")
	list(t, in, "m")
	c := dialWS(t, in, "board=m")
	readMsg(t, c)
	do(t, http.MethodGet, in.ts.URL+"/healthz", nil)

	resp, body := do(t, http.MethodGet, in.ts.URL+"/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	text := string(body)
	require.Contains(t, text, `http_requests_total{code="201",method="POST",version="v9"} 1`)
	require.Contains(t, text, `http_requests_total{code="200",method="GET",version="v9"} 1`, "probes are not counted")
	require.Contains(t, text, `http_requests_total{code="101",method="GET",version="v9"} 1`)
	require.Contains(t, text, `http_request_duration_seconds_count{version="v9"} 2`)
	require.Contains(t, text, `websocket_connections{version="v9"} 1`)
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "go_") || strings.HasPrefix(line, "process_") {
			continue
		}
		require.Contains(t, line, `version="v9"`, "every application series is labelled with the version")
	}
}
