//go:build unix

package localcloud_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

// A supervisor that holds the daemon's sockets keeps the load balancer accepting while
// the daemon restarts: a request sent while no daemon runs waits, and the next daemon
// (which adopts the instances) serves it. Nothing is refused.
func TestHeldListenersCarryClientsAcrossARestart(t *testing.T) {
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer apiLn.Close()
	lbLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lbLn.Close()

	cfg := localcloudtest.TestConfig(t.TempDir())
	cfg.TerminateOnExit = true // a restart must keep the instances all the same
	cfg.APIListener, cfg.LBListener = dup(t, apiLn), dup(t, lbLn)
	d1 := localcloudtest.Start(t, cfg)
	require.Equal(t, apiLn.Addr().String(), d1.APIAddr())
	ins := launch(t, d1, "k", "v1", 1, nil)
	attach(t, d1, ins...)
	waitHealthy(t, d1, ins...)

	status, err := d1.Do(http.MethodPost, api.PathShutdown, api.ShutdownRequest{KeepInstances: true}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	<-d1.Done()
	require.False(t, localcloudtest.Gone(ins[0].PID), "kept for the next daemon")

	// No daemon now: the request waits in the kernel's queue instead of being refused.
	type answer struct {
		status int
		served string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(d1.LB + "/")
		if err != nil {
			got <- answer{err: err}
			return
		}
		resp.Body.Close()
		got <- answer{status: resp.StatusCode, served: resp.Header.Get(api.HeaderInstance)}
	}()
	select {
	case a := <-got:
		t.Fatalf("answered with no daemon running: %+v", a)
	case <-time.After(300 * time.Millisecond):
	}

	cfg.APIListener, cfg.LBListener = dup(t, apiLn), dup(t, lbLn)
	d2 := localcloudtest.Start(t, cfg)
	a := <-got
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, ins[0].ID, a.served, "the adopted instance served it")
	require.Equal(t, api.StatusRunning, find(t, state(t, d2), ins[0].ID).Status)
}

// dup is a copy of ln, as a supervisor hands the daemon a descriptor of its own.
func dup(t *testing.T, ln net.Listener) net.Listener {
	f, err := ln.(*net.TCPListener).File()
	require.NoError(t, err)
	defer f.Close()
	c, err := net.FileListener(f)
	require.NoError(t, err)
	return c
}
