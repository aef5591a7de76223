//go:build unix

package localcloud_test

import (
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

func TestARestartedDaemonAdoptsItsInstances(t *testing.T) {
	cfg := localcloudtest.TestConfig(t.TempDir())
	d1 := localcloudtest.Start(t, cfg)
	ins := launch(t, d1, "k", "v1", 3, nil)
	a, b, dead := ins[0], ins[1], ins[2]
	attach(t, d1, a, b)
	waitHealthy(t, d1, ins...)
	ok(t, d1, http.MethodPut, api.PathWeights, map[string]int{"v1": 100})

	require.NoError(t, d1.Stop(false))
	for _, in := range ins {
		require.False(t, localcloudtest.Gone(in.PID), "instances outlive the daemon")
	}
	// One dies while no daemon watches.
	require.NoError(t, syscall.Kill(dead.PID, syscall.SIGKILL))
	require.True(t, localcloudtest.WaitGone(dead.PID, 5e9))

	d2 := localcloudtest.Start(t, cfg)
	st := state(t, d2)
	require.Equal(t, map[string]int{"v1": 100}, st.Weights)
	for _, in := range []api.Instance{a, b} {
		got := find(t, st, in.ID)
		require.Equal(t, in.PID, got.PID)
		require.Equal(t, in.Address, got.Address, "adopted instances keep their ports")
		require.Equal(t, api.StatusRunning, got.Status)
		require.True(t, got.Attached)
		require.True(t, got.Healthy, "a healthy instance serves again as soon as the daemon is back")
	}
	lost := find(t, st, dead.ID)
	require.Equal(t, api.StatusExited, lost.Status)
	require.Contains(t, lost.LastError, "ended while the daemon was down")

	for range 20 {
		status, served := get(t, d2.LB+"/")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, []string{a.ID, b.ID}, served)
	}

	// The launch key still means the same instances.
	again := launch(t, d2, "k", "v1", 3, nil)
	require.Equal(t, ids(ins), ids(again))

	// Adopted processes are not the new daemon's children; terminating them still works.
	ok(t, d2, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{a.ID}})
	require.True(t, localcloudtest.Gone(a.PID))
}
