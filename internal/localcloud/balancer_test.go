//go:build unix

package localcloud_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

func TestLBNeverRoutesToAnUnhealthyInstance(t *testing.T) {
	d := start(t)
	good := launch(t, d, "good", "v1", 1, nil)[0]
	bad := launch(t, d, "bad", "v2", 1, map[string]string{"FAKE_MODE": "unhealthy"})[0]

	status, _ := get(t, d.LB+"/")
	require.Equal(t, http.StatusServiceUnavailable, status, "nothing attached yet")

	attach(t, d, good, bad)
	waitHealthy(t, d, good)
	for range 50 {
		status, served := get(t, d.LB+"/")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, good.ID, served)
	}
	require.False(t, find(t, state(t, d), bad.ID).Healthy)

	// An instance that starts failing its checks leaves the rotation.
	resp, err := client.Post("http://"+good.Address+"/admin/health?ok=false", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	waitInstance(t, d, good.ID, "unhealthy", func(in api.Instance) bool { return !in.Healthy })
	status, _ = get(t, d.LB+"/")
	require.Equal(t, http.StatusServiceUnavailable, status)
}

func TestDetachLetsInFlightRequestsFinish(t *testing.T) {
	d := start(t)
	ins := launch(t, d, "k", "v1", 2, nil)
	a, b := ins[0], ins[1]
	attach(t, d, a)
	waitHealthy(t, d, a, b)

	type result struct {
		status int
		served string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := client.Get(d.LB + "/slow?ms=1500")
		if err != nil {
			slow <- result{err: err}
			return
		}
		resp.Body.Close()
		slow <- result{status: resp.StatusCode, served: resp.Header.Get(api.HeaderInstance)}
	}()
	waitInstance(t, d, a.ID, "busy", func(in api.Instance) bool { return in.Connections == 1 })

	attach(t, d, b)
	detach(t, d, "", a)
	in := find(t, state(t, d), a.ID)
	require.True(t, in.Draining)
	require.False(t, in.Attached)
	require.Equal(t, 1, in.Connections)

	for range 20 {
		status, served := get(t, d.LB+"/")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, b.ID, served, "a detached instance gets no new requests")
	}

	res := <-slow
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, a.ID, res.served)
	waitInstance(t, d, a.ID, "drained", func(in api.Instance) bool { return in.Connections == 0 && !in.Draining })
}

func TestWebSocketStaysOpenOnADetachedInstance(t *testing.T) {
	d := start(t)
	ins := launch(t, d, "k", "v1", 2, nil)
	a, b := ins[0], ins[1]
	attach(t, d, a)
	waitHealthy(t, d, a, b)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.LB, "http")+"/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	require.Equal(t, a.ID, resp.Header.Get(api.HeaderInstance))
	echo(t, ctx, c, "hello")
	waitInstance(t, d, a.ID, "holding a websocket", func(in api.Instance) bool { return in.WebSockets == 1 && in.Connections == 1 })

	attach(t, d, b)
	detach(t, d, "", a)
	echo(t, ctx, c, "still here after detach")
	_, served := get(t, d.LB+"/")
	require.Equal(t, b.ID, served)
	require.True(t, find(t, state(t, d), a.ID).Draining)

	require.NoError(t, c.Close(websocket.StatusNormalClosure, "bye"))
	waitInstance(t, d, a.ID, "drained", func(in api.Instance) bool { return in.Connections == 0 && !in.Draining })
}

func TestDrainDeadlineClosesWebSockets(t *testing.T) {
	d := start(t)
	a := launch(t, d, "k", "v1", 1, nil)[0]
	attach(t, d, a)
	waitHealthy(t, d, a)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.LB, "http")+"/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	echo(t, ctx, c, "hello")

	detach(t, d, "300ms", a)
	_, _, err = c.Read(ctx) // blocks until the load balancer cuts the connection
	require.Error(t, err)
	require.NoError(t, ctx.Err(), "the drain deadline, not the test timeout, closed it")
	waitInstance(t, d, a.ID, "drained", func(in api.Instance) bool { return in.Connections == 0 && !in.Draining })
}

func echo(t *testing.T, ctx context.Context, c *websocket.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
	_, got, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func TestWeightsSplitTrafficPerVersion(t *testing.T) {
	d := start(t)
	v1 := launch(t, d, "old", "v1", 2, nil)
	v2 := launch(t, d, "new", "v2", 1, nil)
	all := append(v1, v2...)
	attach(t, d, all...)
	waitHealthy(t, d, all...)
	version := map[string]string{}
	for _, in := range all {
		version[in.ID] = in.Version
	}

	// 25% to v2 although it is one instance of three: exactly, as the weighted round
	// robin gives each version its weight's picks in every cycle of 100.
	ok(t, d, http.MethodPut, api.PathWeights, map[string]int{"v1": 75, "v2": 25})
	const n = 600
	perVersion := map[string]int{}
	perInstance := map[string]int{}
	for range n {
		status, served := get(t, d.LB+"/")
		require.Equal(t, http.StatusOK, status)
		perVersion[version[served]]++
		perInstance[served]++
	}
	require.Equal(t, n/4, perVersion["v2"], "v2 share: %v", perVersion)
	for _, in := range v1 {
		require.InDelta(t, 0.375, float64(perInstance[in.ID])/n, 0.08, "v1 instances share v1's weight: %v", perInstance)
	}

	ok(t, d, http.MethodPut, api.PathWeights, map[string]int{"v2": 100})
	require.Equal(t, map[string]int{"v2": 100}, state(t, d).Weights)
	for range 30 {
		_, served := get(t, d.LB+"/")
		require.Equal(t, "v2", version[served])
	}
}

func TestConnectionRefusedIsRetriedOnAnotherTarget(t *testing.T) {
	cfg := localcloudtest.TestConfig(t.TempDir())
	// Keep the refusing instance "healthy" so that only the retry can save requests.
	cfg.UnhealthyThreshold = 1_000_000
	d := localcloudtest.Start(t, cfg)
	ins := launch(t, d, "k", "v1", 2, nil)
	a, b := ins[0], ins[1]
	attach(t, d, a, b)
	waitHealthy(t, d, a, b)

	resp, err := client.Post("http://"+a.Address+"/admin/refuse", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	for range 40 {
		status, served := get(t, d.LB+"/")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, b.ID, served)
	}
	// POSTs too: a refused connection carried nothing.
	for range 10 {
		resp, err := client.Post(d.LB+"/", "text/plain", strings.NewReader("payload"))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
}

func TestAttachDetachChurnLosesNoRequest(t *testing.T) {
	d := start(t)
	ins := launch(t, d, "k", "v1", 2, nil)
	attach(t, d, ins...)
	waitHealthy(t, d, ins...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var served atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := client.Get(d.LB + "/slow?ms=5")
				if err != nil {
					t.Errorf("request lost: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("request failed: %s", resp.Status)
					return
				}
				served.Add(1)
			}
		})
	}
	// Traffic moves from one instance to the other and back, attach before detach, as
	// a release does: there is always a target, so no request may fail.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		from, to := ins[i%2], ins[(i+1)%2]
		attach(t, d, to)
		detach(t, d, "", from)
		<-tick.C
	}
	wg.Wait()
	require.Greater(t, served.Load(), int64(100))
}

func TestRollingReplacementUnderLoadLosesNothing(t *testing.T) {
	d := start(t)
	old := launch(t, d, "old", "v1", 2, nil)
	attach(t, d, old...)
	waitHealthy(t, d, old...)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	perVersion := map[string]int{}
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(d.LB+"/slow?ms=20", "text/plain", strings.NewReader("work"))
				if err != nil {
					t.Errorf("request lost: %v", err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("request failed: %s", resp.Status)
					return
				}
				mu.Lock()
				perVersion[strings.Fields(string(b))[1]]++
				mu.Unlock()
			}
		})
	}

	replacement := launch(t, d, "new", "v2", 2, nil)
	waitHealthy(t, d, replacement...)
	attach(t, d, replacement...)
	detach(t, d, "", old...)
	for _, in := range old {
		waitInstance(t, d, in.ID, "drained", func(in api.Instance) bool { return in.Connections == 0 && !in.Draining })
	}
	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: ids(old)})
	// Keep the load on the new version a little while after the old one is gone.
	waitInstance(t, d, replacement[0].ID, "serving", func(in api.Instance) bool { return in.Connections > 0 })
	close(stop)
	wg.Wait()
	require.Positive(t, perVersion["v1"])
	require.Positive(t, perVersion["v2"])
}
