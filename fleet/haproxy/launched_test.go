//go:build unix

package haproxy_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
	"github.com/zerodown/zerodown/schemas"
)

// TestLaunchedInstancesBehindHAProxy runs a fleet whose instances the local cloud
// launches and HAProxy balances: launched servers take no traffic until attached,
// a retried launch adds nothing, an HAProxy restart (which forgets dynamic servers)
// is repaired from the local cloud's record, and terminate removes server and process.
func TestLaunchedInstancesBehindHAProxy(t *testing.T) {
	needServers(t)
	hx := haproxytest.Start(t, haproxytest.Config{}) // an empty backend
	cloud := localcloudtest.Start(t, localcloudtest.TestConfig(t.TempDir()))
	target := schemas.Target{
		Provider:  schemas.ProviderHAProxy,
		Instances: 2,
		HAProxy:   &schemas.HAProxySpec{RuntimeAPI: hx.Socket, Backend: hx.Backend, CheckInterval: schemas.Duration(200 * time.Millisecond)},
		Local: &schemas.LocalSpec{
			Command:    []string{demoBin, "--version", "{{.Version}}", "--port", "{{.Port}}", "--store", filepath.Join(t.TempDir(), "board.db")},
			HealthPath: "/healthz",
		},
	}
	ff, err := haproxy.FactoryWith(cloud.API)(target)
	require.NoError(t, err)
	f := ff.(*haproxy.Fleet)
	f.Poll = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	req := fleet.LaunchRequest{Key: "release/board/test/run/canary", Version: "v1", Count: 2}
	ins, err := f.Launch(ctx, req)
	require.NoError(t, err)
	require.Len(t, ins, 2)
	ids := []string{ins[0].ID, ins[1].ID}
	again, err := f.Launch(ctx, req)
	require.NoError(t, err)
	require.Equal(t, ids, []string{again[0].ID, again[1].ID}, "the same key, the same instances")

	require.NoError(t, f.WaitHealthy(ctx, ids))
	st, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Len(t, st.Instances, 2)
	for _, in := range st.Instances {
		require.True(t, in.Healthy, "%+v", in)
		require.False(t, in.Attached, "launched, not yet attached: %+v", in)
		require.Equal(t, "v1", in.Version)
	}
	code, _ := get(t, hx.URL+"/healthz")
	require.Equal(t, http.StatusServiceUnavailable, code, "no server takes traffic before Attach")

	require.NoError(t, f.Attach(ctx, ids))
	require.Equal(t, map[string]int{"v1": 4}, servedBy(t, hx.URL+"/healthz", 4))

	// A restart forgets dynamic servers; the provider adds them back, attached.
	hx.Restart(t, false)
	servers, err := hx.Client().Servers(ctx, hx.Backend)
	require.NoError(t, err)
	require.Empty(t, servers, "HAProxy forgot the dynamic servers")
	st, err = f.Describe(ctx)
	require.NoError(t, err)
	require.Len(t, st.Instances, 2)
	require.NoError(t, f.WaitHealthy(ctx, ids))
	require.Equal(t, map[string]int{"v1": 4}, servedBy(t, hx.URL+"/healthz", 4))

	// Detach, drain, terminate one: its server leaves the backend, its process ends.
	require.NoError(t, f.Detach(ctx, ids[:1]))
	require.NoError(t, f.WaitDrained(ctx, ids[:1]))
	require.NoError(t, f.Terminate(ctx, ids[:1]))
	servers, err = hx.Client().Servers(ctx, hx.Backend)
	require.NoError(t, err)
	require.Len(t, servers, 1)
	require.Equal(t, ids[1], servers[0].Name)
	st, err = f.Describe(ctx)
	require.NoError(t, err)
	require.False(t, slices.ContainsFunc(st.Instances, func(in fleet.Instance) bool { return in.ID == ids[0] }))
	require.NoError(t, f.Terminate(ctx, ids[:1]), "terminating twice is fine")
}
