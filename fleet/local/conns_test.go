package local_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/schemas"
)

// The worker builds a Fleet for every activity. Fleets must share their connections to
// the local cloud, or a long-running worker opens one more for each and keeps it: 500
// fleets asking once each open at most a handful.
func TestFleetsShareTheirConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"instances":[]}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for range 500 {
		_, err := local.New(srv.URL, schemas.LocalSpec{}).Describe(context.Background())
		require.NoError(t, err)
	}
	require.LessOrEqual(t, opened.Load(), int64(4), "connections opened for 500 describes")
}
