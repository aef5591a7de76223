//go:build unix

package haproxy_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
	"github.com/zerodown/zerodown/schemas"
)

// TestRuntimeAPIErrorsAreHAProxysWords checks that what HAProxy refuses reaches the
// caller in its own words, and that refusals no retry can fix are marked so.
func TestRuntimeAPIErrorsAreHAProxysWords(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}})
	ctx := context.Background()
	api := w.hx.Client()

	err := api.SetState(ctx, "web", "ghost", haproxy.StateDrain)
	var re *haproxy.RuntimeError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "No such server.", re.Reply)
	require.EqualError(t, err, `haproxy refused "set server web/ghost state drain": No such server.`)
	require.ErrorContains(t, api.SetWeight(ctx, "web", "a", 300), "Absolute weight can only be between 0 and 256 inclusive.")
	require.ErrorContains(t, api.AddServer(ctx, "web", "a", "127.0.0.1:1"), "Already exists a server with the same name in backend.")
	require.ErrorContains(t, api.DelServer(ctx, "web", "a"), "Only servers in maintenance mode can be deleted.")

	// A backend that does not exist is a configuration error, in HAProxy's words.
	wrong, err := haproxy.New(&schemas.HAProxySpec{RuntimeAPI: w.hx.Socket, Backend: "nope", Servers: []schemas.HAProxyServer{{Name: "a"}}}, nil)
	require.NoError(t, err)
	_, err = wrong.Describe(ctx)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "Can't find backend.")
	require.ErrorContains(t, api.SetState(ctx, "nope", "a", haproxy.StateDrain), "No such backend.")

	// A listed server missing from the backend is named; one not listed is refused.
	ghost, err := haproxy.New(&schemas.HAProxySpec{RuntimeAPI: w.hx.Socket, Backend: "web", Servers: []schemas.HAProxyServer{{Name: "a"}, {Name: "ghost"}}}, nil)
	require.NoError(t, err)
	_, err = ghost.Describe(ctx)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "target.haproxy.servers ghost are not servers of backend web")
	err = ghost.Detach(ctx, []string{"ghost"})
	require.ErrorIs(t, err, fleet.ErrNotFound)
	require.ErrorContains(t, err, "No such server.")
	require.ErrorIs(t, w.fleet.Attach(ctx, []string{"b"}), fleet.ErrNotFound, "b is not in target.haproxy.servers")

	// Fixed servers are upgraded in place, not launched or terminated.
	_, err = w.fleet.Launch(ctx, fleet.LaunchRequest{Key: "k", Version: "v2", Count: 1})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorIs(t, w.fleet.Terminate(ctx, []string{"a"}), fleet.ErrInvalidConfig)
}

// TestRefusalsOfTheConfiguration: a socket below level admin, and a backend that
// cannot take dynamic servers, are configuration errors, in HAProxy's words.
func TestRefusalsOfTheConfiguration(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	d := haproxytest.StartDemo(t, demoBin, "", "v1", filepath.Join(t.TempDir(), "board.db"))
	hx := haproxytest.Start(t, haproxytest.Config{Servers: []haproxytest.Server{{Name: "a", Addr: d.Addr}}, Level: "operator", Balance: "static-rr"})
	f, err := haproxy.New(&schemas.HAProxySpec{RuntimeAPI: hx.Socket, Backend: hx.Backend, Servers: []schemas.HAProxyServer{{Name: "a"}}}, nil)
	require.NoError(t, err)
	_, err = f.Describe(ctx)
	require.NoError(t, err, "reading needs no more than operator")
	err = f.Detach(ctx, []string{"a"})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "needs `level admin`")
	require.ErrorContains(t, err, "Permission denied")

	admin := haproxytest.Start(t, haproxytest.Config{Balance: "static-rr"})
	err = admin.Client().AddServer(ctx, admin.Backend, "b", d.Addr)
	require.ErrorContains(t, err, "Backend must use a dynamic load balancing to support dynamic servers.")
}

// TestWaitHealthyReportsHAProxysChecks waits on a server whose health check fails: the
// wait ends with HAProxy's account of the check, and refuses a server in maintenance,
// which HAProxy does not check.
func TestWaitHealthyReportsHAProxysChecks(t *testing.T) {
	needServers(t)
	w := newWorld(t, []demoServer{{name: "a", version: "v1"}, {name: "sick", version: "v1", args: []string{"--unhealthy-after", "1ms"}}})
	ctx := context.Background()
	require.NoError(t, w.fleet.WaitHealthy(ctx, []string{"a"}))

	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := w.fleet.WaitHealthy(short, []string{"a", "sick"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "sick (L7STS: Layer7 wrong status: Service Unavailable)")

	require.NoError(t, w.fleet.Maintenance(ctx, []string{"a"}))
	err = w.fleet.WaitHealthy(ctx, []string{"a"})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig)
	require.ErrorContains(t, err, "a is in maintenance")
	// Drain: checks run again without traffic; a is healthy once HAProxy says so.
	require.NoError(t, w.fleet.Drain(ctx, []string{"a"}))
	long, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, w.fleet.WaitHealthy(long, []string{"a"}))

	// Upgraded in place to a build that never gets healthy: leaving maintenance, the
	// wait is on a fresh check, not on the verdict from before the upgrade.
	require.NoError(t, w.fleet.Maintenance(ctx, []string{"a"}))
	require.NoError(t, w.demos["a"].Stop())
	haproxytest.StartDemo(t, demoBin, w.demos["a"].Addr, "v2", w.store, "--fail-health")
	require.NoError(t, w.fleet.Drain(ctx, []string{"a"}))
	short, cancel = context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = w.fleet.WaitHealthy(short, []string{"a"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "a (L7STS: Layer7 wrong status")
}
