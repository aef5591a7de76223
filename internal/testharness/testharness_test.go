package testharness_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

func TestDevServerRegistersSearchAttributes(t *testing.T) {
	c := testharness.StartDevServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	for _, name := range testharness.SearchAttributes {
		require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, resp.GetCustomAttributes()[name], name)
	}
}

func TestWorkerServesMetricsAndStops(t *testing.T) {
	c := testharness.StartDevServer(t)
	ready := testharness.StartWorkerWith(t, c, workerapp.Options{
		Fleets:         fleet.Registry{schemas.ProviderMemory: memory.New().Factory},
		MetricsAddress: "127.0.0.1:0",
	})
	require.Equal(t, "zerodown", ready.TaskQueue)
	require.NotEmpty(t, ready.MetricsAddress)
	// The SDK reports its pollers and worker start through tally, flushed every second.
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + ready.MetricsAddress + workerapp.MetricsPath)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && containsAll(string(b), "temporal_worker_start", "go_goroutines")
	}, 20*time.Second, 200*time.Millisecond)
}

func TestTemporalCLIFound(t *testing.T) {
	p, err := testharness.TemporalCLI()
	require.NoError(t, err)
	require.FileExists(t, p)
	t.Setenv(testharness.TemporalCLIEnv, "/nonexistent/temporal")
	_, err = testharness.TemporalCLI()
	require.ErrorContains(t, err, "/nonexistent/temporal")
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
