//go:build linux

package localcloud

import (
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// The systemd protocol: named descriptors from 3 on (here from 100, the test process
// already uses 3 and 4), and LISTEN_PID, when set, must name us.
func TestListenersFromTheSystemdProtocol(t *testing.T) {
	api, lb := fdAt(t, 100), fdAt(t, 101)
	env := map[string]string{listenFDsEnv: "2", listenNamesEnv: "lb:api"}
	a, l, err := listenersFrom(func(k string) string { return env[k] }, 100)
	require.NoError(t, err)
	defer a.Close()
	defer l.Close()
	require.Equal(t, lb.Addr().String(), a.Addr().String(), "named: the first is the lb")
	require.Equal(t, api.Addr().String(), l.Addr().String())

	env[listenPIDEnv] = strconv.Itoa(syscall.Getpid() + 1)
	a, l, err = listenersFrom(func(k string) string { return env[k] }, 100)
	require.NoError(t, err)
	require.Nil(t, a, "meant for another process")
	require.Nil(t, l)

	a, l, err = listenersFrom(func(string) string { return "" }, 100)
	require.NoError(t, err)
	require.Nil(t, a, "no supervisor: bind as usual")
	require.Nil(t, l)
}

func TestAPIListenerMustBeLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer ln.Close()
	require.ErrorContains(t, checkAPIListener(ln), "only listens on loopback")
}

// fdAt puts a fresh loopback listener's socket at descriptor fd, as a supervisor would.
func fdAt(t *testing.T, fd int) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.Dup3(int(f.Fd()), fd, 0))
	t.Cleanup(func() { syscall.Close(fd) })
	return ln
}
