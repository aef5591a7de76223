//go:build unix

package haproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
)

// browser keeps the cookies HAProxy sets, on a fresh connection per request (so it is
// the cookie, not a kept-alive connection, that brings it back).
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

func versionFor(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Header.Get(versionHeader)
}

// With cookie persistence in the backend (docs/onprem.md), a user that reached the
// canary stays on it while users without the cookie are spread by the weights the
// release sets. HAProxy keeps persistent users on a server at weight 0 or draining (its
// drain semantics); maintenance, as a terminated server gets, moves them without a
// failed request.
func TestCookieStickinessHoldsAcrossWeights(t *testing.T) {
	needServers(t)
	w := newWorldWith(t, haproxytest.Config{Cookie: true}, []demoServer{{name: "a", version: "v1"}, {name: "b", version: "v1"}, {name: "c", version: "v2"}})
	ctx := context.Background()
	url := w.hx.URL + "/healthz"
	require.NoError(t, w.fleet.SetWeights(ctx, map[string]int{"v1": 80, "v2": 20}))

	var onCanary *http.Client
	for range 50 {
		c := browser(t)
		if versionFor(t, c, url) == "v2" {
			onCanary = c
			break
		}
	}
	require.NotNil(t, onCanary, "no new user reached the canary at 20 %")
	for range 100 {
		require.Equal(t, "v2", versionFor(t, onCanary, url), "a canary user stays on the canary")
	}
	// HAProxy's weighted round robin is exact over its cycle; the search for a canary
	// user above left it mid-cycle, hence a request either way.
	spread := servedBy(t, url, 100)
	require.InDelta(t, 20, spread["v2"], 1, "users without the cookie follow the weights: %v", spread)

	require.NoError(t, w.fleet.SetWeights(ctx, map[string]int{"v1": 100, "v2": 0}))
	require.Equal(t, map[string]int{"v1": 50}, servedBy(t, url, 50), "new users leave a canary at 0 %")
	// HAProxy's own rule, which docs/onprem.md warns of: weight 0 and drain still take
	// persistent users, so a rollback moves them only at maintenance.
	require.Equal(t, "v2", versionFor(t, onCanary, url), "HAProxy keeps persistent users at weight 0")
	require.NoError(t, w.fleet.Detach(ctx, []string{"c"}))
	require.Equal(t, "v2", versionFor(t, onCanary, url), "and while draining")
	require.NoError(t, w.fleet.Maintenance(ctx, []string{"c"}))
	for range 20 {
		require.Equal(t, "v1", versionFor(t, onCanary, url), "in maintenance the canary keeps no user")
	}
}
