package board_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/examples/demoapp/board"
)

// TestExpandContractWithTwoVersionsOnOneStore plays the night's database change on one
// file shared by an old instance (v1, knows nothing of owners) and a new one (v2, writes
// owners): v2 cannot start before expand, both work after it, contract breaks v1's writes
// (so it must wait until no v1 is alive) and undo-expand gives v1 its store back.
func TestExpandContractWithTwoVersionsOnOneStore(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	v1 := startInstance(t, path, board.Config{Version: "v1"})
	create(t, v1, "night", "before")

	early, err := board.OpenStore(path)
	require.NoError(t, err)
	require.ErrorIs(t, early.WriteOwners(), board.ErrNoOwnerColumn, "v2 refuses a store that was not expanded")
	require.NoError(t, early.Close())

	require.NoError(t, board.Migrate(ctx, path, board.MigrateExpand))
	require.NoError(t, board.Migrate(ctx, path, board.MigrateExpand), "expand runs again harmlessly")
	require.Equal(t, "", create(t, v1, "night", "v1 after expand").Owner)

	v2 := startOwnerInstance(t, path)
	req, err := http.NewRequest(http.MethodPost, v2.ts.URL+"/api/boards/night/items", jsonBody(t, map[string]string{"text": "v2"}))
	require.NoError(t, err)
	req.Header.Set(board.UserHeader, "dana")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var it board.Item
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&it))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "dana", it.Owner)
	require.Equal(t, "anonymous", create(t, v2, "night", "nobody").Owner)
	require.Len(t, list(t, v1, "night").Items, 4, "v1 reads what v2 wrote")

	backup := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, board.Migrate(ctx, path, board.MigrateBackup, backup))
	require.Error(t, board.Migrate(ctx, path, board.MigrateBackup, backup), "a backup never overwrites")

	require.NoError(t, board.Migrate(ctx, path, board.MigrateContract))
	resp, body := do(t, http.MethodPost, v1.ts.URL+"/api/boards/night/items", map[string]string{"text": "v1 after contract"})
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "the old version cannot live with the contract")
	require.Contains(t, string(body), "items.owner is required")
	create(t, v2, "night", "v2 after contract")

	require.NoError(t, board.Migrate(ctx, path, board.MigrateUndoExpand))
	create(t, v1, "night", "v1 after undo")
	require.Len(t, list(t, v1, "night").Items, 6)

	// The backup is a store of its own, with what was there when it was taken.
	b := startInstance(t, backup, board.Config{})
	require.Len(t, list(t, b, "night").Items, 4)
	require.Error(t, board.Migrate(ctx, path, "drop-everything"))
}

func startOwnerInstance(t *testing.T, path string) *instance {
	t.Helper()
	st, err := board.OpenStore(path)
	require.NoError(t, err)
	require.NoError(t, st.WriteOwners())
	srv, err := board.New(board.Config{Version: "v2", Store: st})
	require.NoError(t, err)
	return serve(t, srv, st)
}

// TestFrontEndCallsTheBackEnd runs a front end on a back end: the API and WebSockets go
// through both, /smoke checks the whole path, /sanity carries the sanity fault, and a
// front end going away tells its WebSocket users where to resume.
func TestFrontEndCallsTheBackEnd(t *testing.T) {
	back := startInstance(t, storePath(t), board.Config{Version: "api-v1"})
	front := startInstance(t, storePath(t), board.Config{Version: "web-v1", Backend: back.ts.URL})
	bad := startInstance(t, storePath(t), board.Config{Version: "web-bad", Backend: back.ts.URL, FailSanity: true})

	ws := dialWS(t, front, "board=both&since=0")
	require.Equal(t, "hello", readMsg(t, ws).Type)
	it := create(t, front, "both", "through the front end")
	require.Equal(t, "api-v1", it.Version, "the back end stored it")
	require.Equal(t, int64(1), readMsg(t, ws).Seq)
	create(t, back, "both", "straight to the back end")
	require.Equal(t, int64(2), readMsg(t, ws).Seq)

	resp, body := do(t, http.MethodGet, front.ts.URL+"/api/boards/both/items", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "web-v1", resp.Header.Get(board.VersionHeader))
	require.Equal(t, "api-v1", resp.Header.Get(board.BackendVersionHeader))
	require.Contains(t, string(body), "straight to the back end")

	resp, body = do(t, http.MethodGet, front.ts.URL+"/smoke", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"version":"api-v1"`)
	resp, _ = do(t, http.MethodGet, front.ts.URL+"/sanity", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, http.MethodGet, bad.ts.URL+"/smoke", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the bad build passes its smoke test")
	resp, _ = do(t, http.MethodGet, bad.ts.URL+"/sanity", nil)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode, "and fails the sanity test")

	require.Equal(t, 1, front.srv.Migrate(context.Background()))
	m := readMsg(t, ws)
	require.Equal(t, "reconnect", m.Type)
	require.Equal(t, int64(2), m.Seq)
	_, _, err := ws.Read(context.Background())
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))

	// A back end that cannot be reached is a failed dial, not a session that drops.
	back.ts.Close()
	_, resp2, err := websocket.Dial(context.Background(), "ws"+front.ts.URL[len("http"):]+"/ws?board=both&since=2", nil)
	require.Error(t, err)
	require.Equal(t, http.StatusBadGateway, resp2.StatusCode)
	resp, _ = do(t, http.MethodGet, front.ts.URL+"/smoke", nil)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	_, err = board.New(board.Config{Version: "x", Store: mustStore(t), Backend: "ftp://nowhere"})
	require.Error(t, err)
}

func mustStore(t *testing.T) *board.Store {
	st, err := board.OpenStore(storePath(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func jsonBody(t *testing.T, v any) io.Reader {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}
