//go:build unix

package haproxy_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/haproxy"
)

// peer is a Unix socket standing in for a Runtime API that misbehaves (HAProxy itself
// never hangs or floods): serve handles each connection.
func peer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return path
}

func TestClientBoundsTimeAndSize(t *testing.T) {
	ctx := context.Background()

	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	silent := peer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c); <-hang })
	c, err := haproxy.NewClient(silent)
	require.NoError(t, err)
	c.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err = c.Exec(ctx, "show info")
	require.ErrorIs(t, err, haproxy.ErrUnreachable)
	require.Less(t, time.Since(start), 5*time.Second, "the command timeout bounds a silent peer")

	cancelled, cancel := context.WithCancel(ctx)
	c.Timeout = time.Minute
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = c.Exec(cancelled, "show info")
	require.ErrorIs(t, err, context.Canceled)

	flood := peer(t, func(c net.Conn) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	c, err = haproxy.NewClient(flood)
	require.NoError(t, err)
	c.MaxReply = 1 << 20
	_, err = c.Exec(ctx, "show stat")
	require.ErrorContains(t, err, `haproxy's answer to "show stat" is longer than 1048576 bytes`)

	mute := peer(t, func(c net.Conn) {})
	c, err = haproxy.NewClient(mute)
	require.NoError(t, err)
	_, err = c.Exec(ctx, "show info")
	require.ErrorIs(t, err, haproxy.ErrUnreachable, "no answer at all is HAProxy stopping")

	c, err = haproxy.NewClient(filepath.Join(t.TempDir(), "none.sock"))
	require.NoError(t, err)
	_, err = c.Exec(ctx, "show info")
	require.ErrorIs(t, err, haproxy.ErrUnreachable)
}

func TestClientRefusesSmuggledCommands(t *testing.T) {
	ctx := context.Background()
	got := make(chan string, 10)
	echo := peer(t, func(c net.Conn) {
		b := make([]byte, 4096)
		n, _ := c.Read(b)
		got <- string(b[:n])
		_, _ = c.Write([]byte("\n"))
	})
	c, err := haproxy.NewClient(echo)
	require.NoError(t, err)
	for _, cmd := range []string{"show info; shutdown frontend fe", "show info\nshutdown frontend fe", ""} {
		_, err := c.Exec(ctx, cmd)
		require.ErrorContains(t, err, "must be one line without ';'", "%q", cmd)
	}
	require.ErrorContains(t, c.SetState(ctx, "web", "a;shutdown", haproxy.StateReady), "is not an HAProxy name")
	require.ErrorContains(t, c.SetState(ctx, "web x", "a", haproxy.StateReady), "is not an HAProxy name")
	require.ErrorContains(t, c.AddServer(ctx, "web", "a", "127.0.0.1:1", "check inter"), "must be one word")
	require.Empty(t, got, "nothing was sent")

	require.NoError(t, c.SetState(ctx, "web", "a", haproxy.StateDrain))
	require.Equal(t, "show proc\n", <-got, "is it the master CLI? (it is not: no '#<PID>')")
	require.Equal(t, "set server web/a state drain\n", <-got)
	require.NoError(t, c.SetState(ctx, "web", "a", haproxy.StateReady))
	require.Equal(t, "set server web/a state ready\n", <-got, "asked once")
}

func TestClientAddresses(t *testing.T) {
	for _, ok := range []string{"/run/haproxy/admin.sock", "127.0.0.1:9999", "lb.internal:9999", "[::1]:9999"} {
		c, err := haproxy.NewClient(ok)
		require.NoError(t, err, ok)
		require.Equal(t, ok, c.Address())
	}
	for _, bad := range []string{"", "admin.sock", "127.0.0.1", "unix:/x"} {
		_, err := haproxy.NewClient(bad)
		require.Error(t, err, bad)
	}
}
