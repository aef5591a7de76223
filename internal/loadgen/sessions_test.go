package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/loadgen"
)

// TestSessionsKeepTheirCookies: with Sessions set, each simulated user sends back the
// cookie it was given, so a sticky load balancer can keep it on one version; without,
// no request carries a cookie. The per-window count of versions is the share measured.
func TestSessionsKeepTheirCookies(t *testing.T) {
	var next atomic.Int64
	var mu sync.Mutex
	seen := map[string]int{} // user cookie -> requests that carried it
	var bare atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var user int64
		if c, err := r.Cookie("user"); err == nil {
			user, _ = strconv.ParseInt(c.Value, 10, 64)
			mu.Lock()
			seen[c.Value]++
			mu.Unlock()
		} else {
			bare.Add(1)
			user = next.Add(1)
			http.SetCookie(w, &http.Cookie{Name: "user", Value: strconv.FormatInt(user, 10)})
		}
		// Every fourth user is on the canary: the share the report must show.
		version := "v1"
		if user%4 == 0 {
			version = "v2"
		}
		w.Header().Set(loadgen.VersionHeader, version)
		w.Write([]byte(`{"seq":0,"items":[]}`))
	}))
	defer ts.Close()

	r, err := loadgen.Run(context.Background(), loadgen.Config{BaseURL: ts.URL, Rate: 200, Duration: time.Second, Sessions: 8})
	require.NoError(t, err)
	t.Log("\n" + r.String())
	require.Zero(t, r.Failed)
	require.Equal(t, int64(8), bare.Load(), "each of the 8 users came without a cookie once, then kept it")
	mu.Lock()
	require.Len(t, seen, 8)
	mu.Unlock()
	require.InDelta(t, 0.25, r.Windows[0].Share("v2"), 0.01, "2 users of 8 on v2, with requests spread evenly over users")

	bare.Store(0)
	r, err = loadgen.Run(context.Background(), loadgen.Config{BaseURL: ts.URL, Rate: 200, Duration: 500 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, r.Requests, bare.Load(), "without Sessions no request carries a cookie")

	_, err = loadgen.New(loadgen.Config{BaseURL: ts.URL, Sessions: -1})
	require.ErrorContains(t, err, "Sessions")
}
