package loadgen_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/loadgen"
)

func TestRateIsAccurateAndOpenLoop(t *testing.T) {
	var served, writes atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Method == http.MethodPost {
			writes.Add(1)
		}
		w.Header().Set(loadgen.VersionHeader, "v1")
		w.Write([]byte(`{"seq":0,"items":[]}`))
	}))
	defer ts.Close()

	r, err := loadgen.Run(context.Background(), loadgen.Config{
		BaseURL: ts.URL, Rate: 200, Duration: 2 * time.Second, WriteRatio: 0.25, Boards: []string{"a", "b"},
	})
	require.NoError(t, err)
	t.Log("\n" + r.String())
	require.InDelta(t, 400, r.Requests, 40, "200 req/s for 2s")
	require.InDelta(t, 200, r.ActualRate, 20)
	require.Equal(t, r.Requests, served.Load(), "every request due was sent and answered")
	require.Equal(t, r.Requests, r.OK)
	require.Zero(t, r.Failed)
	require.InDelta(t, float64(served.Load())/4, writes.Load(), 1, "a quarter are writes")
	require.Equal(t, loadgen.VersionStats{Responses: r.OK}, r.Versions["v1"])
	require.Equal(t, r.OK, r.Latency.Count)
	require.Greater(t, r.Latency.P50, 0.0)
	require.True(t, r.ZeroLoss())

	var decoded loadgen.Report
	require.NoError(t, json.Unmarshal(r.JSON(), &decoded))
	require.Equal(t, r.Requests, decoded.Requests)
}

func TestFailuresAreCountedByCause(t *testing.T) {
	var n, answered500, hung atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(loadgen.VersionHeader, "v2")
		switch n.Add(1) % 4 {
		case 0:
			answered500.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
		case 1:
			hung.Add(1)
			select { // beyond the client's timeout, but never leak past the test
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer ts.Close()

	r, err := loadgen.Run(context.Background(), loadgen.Config{
		BaseURL: ts.URL, Rate: 100, Duration: time.Second, Timeout: 150 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Log("\n" + r.String())
	require.Equal(t, answered500.Load(), r.Failures.Status5xx)
	require.Equal(t, hung.Load(), r.Failures.Timeout)
	require.Positive(t, r.Failures.Status5xx)
	require.Positive(t, r.Failures.Timeout)
	require.Zero(t, r.Failures.Conn+r.Failures.Overload+r.Failures.Status4xx)
	require.Equal(t, r.Requests, r.OK+r.Failed)
	require.Equal(t, answered500.Load(), r.Versions["v2"].Errors)
	require.False(t, r.ZeroLoss())
	// The report quotes the first failures, so a lost request can be explained.
	require.NotEmpty(t, r.FailureSamples)
	require.LessOrEqual(t, len(r.FailureSamples), 10)
	require.Contains(t, strings.Join(r.FailureSamples, "\n"), "500 Internal Server Error from v2")
}

func TestConnectionErrorsAndOverload(t *testing.T) {
	// A port nobody listens on: every request fails to connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	r, err := loadgen.Run(context.Background(), loadgen.Config{BaseURL: dead, Rate: 50, Duration: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Positive(t, r.Requests)
	require.Equal(t, r.Requests, r.Failures.Conn)

	// A server that holds every request, with room for only two in flight: the rest
	// cannot be sent on time and count as overload, not as silently skipped.
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	r, err = loadgen.Run(context.Background(), loadgen.Config{
		BaseURL: ts.URL, Rate: 50, Duration: 400 * time.Millisecond, MaxInFlight: 2, Timeout: 300 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Log("\n" + r.String())
	require.Equal(t, r.Requests, r.Failed)
	require.Positive(t, r.Failures.Overload)
	require.Positive(t, r.Failures.Timeout)
	require.GreaterOrEqual(t, r.Requests, int64(15), "overload does not slow the clock")
}

func TestMarksSplitWindows(t *testing.T) {
	var slow atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(60 * time.Millisecond)
		}
		w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	g, err := loadgen.New(loadgen.Config{BaseURL: ts.URL, Rate: 100})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	time.Sleep(300 * time.Millisecond)
	g.Mark("release-start")
	slow.Store(true)
	time.Sleep(300 * time.Millisecond)
	slow.Store(false)
	g.Mark("release-end")
	time.Sleep(300 * time.Millisecond)
	r := g.Stop()
	t.Log("\n" + r.String())

	require.Len(t, r.Windows, 2)
	steady, release := r.Windows[0], r.Windows[1]
	require.Equal(t, loadgen.SteadyWindow, steady.Name)
	require.Equal(t, "release", release.Name)
	require.Equal(t, r.Requests, steady.Requests+release.Requests)
	require.InDelta(t, 60, steady.Requests, 15)
	require.InDelta(t, 30, release.Requests, 10)
	require.GreaterOrEqual(t, release.Latency.P50, 60.0)
	require.Less(t, steady.Latency.P50, 60.0)
	require.Equal(t, release.Requests, release.SendLag.Count, "every request sent is timed")
	require.Less(t, release.SendLag.P50, release.Latency.P50/2, "open loop: a slow server does not delay sending")
	require.Len(t, r.Marks, 2)
	require.Equal(t, "release", r.Marks[0].Window)
	require.Same(t, r, g.Stop(), "Stop is idempotent")
}

// Settled returns once the requests sent before a mark are answered, not before.
func TestSettledWaitsForTheRequestsOfAWindow(t *testing.T) {
	var answered atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte(`{}`))
		answered.Add(1)
	}))
	defer ts.Close()
	g, err := loadgen.New(loadgen.Config{BaseURL: ts.URL, Rate: 50})
	require.NoError(t, err)
	require.NoError(t, g.Start(context.Background()))
	time.Sleep(300 * time.Millisecond)
	g.Mark("crash-start")
	sent := answered.Load()
	require.NoError(t, g.Settled(context.Background(), loadgen.SteadyWindow))
	require.Greater(t, answered.Load(), sent, "requests were still in flight at the mark")
	r := g.Stop()
	require.Equal(t, r.Windows[0].Requests, r.Windows[0].OK, "every steady request was answered")

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	require.NoError(t, g.Settled(ctx, "no such window"))
}

func TestConfigIsValidated(t *testing.T) {
	for _, cfg := range []loadgen.Config{
		{BaseURL: "127.0.0.1:80"},
		{BaseURL: "http://x", Rate: -1},
		{BaseURL: "http://x", WriteRatio: 2},
		{BaseURL: "http://x", Boards: []string{"a/b"}},
	} {
		_, err := loadgen.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
}

func TestFailuresNameTheirCauses(t *testing.T) {
	require.Equal(t, "conn 2, 5xx 1", loadgen.Failures{Conn: 2, Status5xx: 1}.Causes())
	require.Empty(t, loadgen.Failures{}.Causes())
}
