//go:build unix

package localcloud_test

import (
	"io"
	"net"
	"net/http"
	"strings"
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
	apiLn, lbLn := supervisorListeners(t)

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

// supervisorListeners are the API and load balancer sockets a supervisor holds across
// restarts of the daemon; each daemon gets copies (dup).
func supervisorListeners(t *testing.T) (apiLn, lbLn net.Listener) {
	t.Helper()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = apiLn.Close() })
	lbLn, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = lbLn.Close() })
	return apiLn, lbLn
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

// A daemon that stops while clients keep sending on keep-alive connections closes
// each one after a response (Connection: close), never under a request: writes, which
// a client does not retry, all succeed across the restart.
func TestStoppingDaemonClosesBusyConnectionsAfterAResponse(t *testing.T) {
	apiLn, lbLn := supervisorListeners(t)

	cfg := localcloudtest.TestConfig(t.TempDir())
	cfg.APIListener, cfg.LBListener = dup(t, apiLn), dup(t, lbLn)
	d1 := localcloudtest.Start(t, cfg)
	ins := launch(t, d1, "k", "v1", 1, nil)
	attach(t, d1, ins...)
	waitHealthy(t, d1, ins...)

	type tally struct{ ok, closed, failed int }
	stop := make(chan struct{})
	results := make(chan tally, 4)
	for range 4 {
		go func() {
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			var n tally
			for {
				select {
				case <-stop:
					results <- n
					return
				default:
				}
				resp, err := client.Post(d1.LB+"/", "text/plain", strings.NewReader("write"))
				if err != nil {
					t.Logf("write failed: %v", err)
					n.failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.ok++
				if resp.Close {
					n.closed++
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	_, err := d1.Do(http.MethodPost, api.PathShutdown, api.ShutdownRequest{KeepInstances: true}, nil)
	require.NoError(t, err)
	<-d1.Done()
	cfg.APIListener, cfg.LBListener = dup(t, apiLn), dup(t, lbLn)
	localcloudtest.Start(t, cfg)
	time.Sleep(200 * time.Millisecond)
	close(stop)

	var sum tally
	for range 4 {
		n := <-results
		sum.ok, sum.closed, sum.failed = sum.ok+n.ok, sum.closed+n.closed, sum.failed+n.failed
	}
	require.Zero(t, sum.failed, "%+v", sum)
	require.Positive(t, sum.ok)
	require.GreaterOrEqual(t, sum.closed, 4, "each client's connection was closed after a response: %+v", sum)
}
