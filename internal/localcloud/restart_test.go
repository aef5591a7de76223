//go:build unix

package localcloud_test

import (
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	require.True(t, localcloudtest.WaitGone(dead.PID, 5*time.Second))

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

func TestLongTerminatedInstancesAreForgotten(t *testing.T) {
	dir := t.TempDir()
	ended := time.Now().Add(-8 * 24 * time.Hour).Format(time.RFC3339)
	state := `{"version": 1,
	  "instances": [{"id": "i-old", "version": "v0", "launchKey": "ancient", "port": 1, "args": ["x"],
	                 "healthPath": "/healthz", "logPath": "x.log", "status": "terminated", "endedAt": "` + ended + `"}],
	  "launches": {"ancient": {"version": "v0", "count": 1, "ids": ["i-old"]}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o644))
	d := localcloudtest.Start(t, localcloudtest.TestConfig(dir))

	var all api.State
	_, err := d.Do(http.MethodGet, api.PathState+"?all=1", nil, &all)
	require.NoError(t, err)
	require.Empty(t, all.Instances)
	in := launch(t, d, "ancient", "v1", 1, nil)[0]
	require.NotEqual(t, "i-old", in.ID, "a forgotten key launches afresh")
}
