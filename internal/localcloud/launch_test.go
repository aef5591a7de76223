//go:build unix

package localcloud_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

func TestLaunchWithTheSameKeyReturnsTheSameInstances(t *testing.T) {
	d := start(t)
	first := launch(t, d, "release/board/prod#canary", "v1", 2, nil)
	again := launch(t, d, "release/board/prod#canary", "v1", 2, nil)
	require.Equal(t, ids(first), ids(again))

	st := state(t, d)
	require.Len(t, st.Instances, 2, "a retried launch must not start more processes")
	require.NotEqual(t, first[0].PID, first[1].PID)
	require.NotEqual(t, first[0].Address, first[1].Address)
	for _, in := range st.Instances {
		require.False(t, localcloudtest.Gone(in.PID))
		require.Equal(t, api.StatusRunning, in.Status)
		require.False(t, in.Attached, "a launched instance takes no traffic until attached")
	}

	// The same key for something else is refused, as EC2 refuses a reused ClientToken.
	var e api.Error
	status, err := d.Do(http.MethodPost, api.PathInstances, api.LaunchRequest{
		Key: "release/board/prod#canary", Version: "v1", Count: 3, Command: localcloudtest.FakeCommand(fakeBin),
	}, &e)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, e.Error, "launch key")
}

func TestCrashOnStartIsReportedWithTheLog(t *testing.T) {
	d := start(t)
	crashed := launch(t, d, "crash", "v2", 1, map[string]string{"FAKE_MODE": "crash"})[0]
	waitInstance(t, d, crashed.ID, "exited", func(in api.Instance) bool { return in.Status == api.StatusExited })
	in := find(t, state(t, d), crashed.ID)
	require.NotNil(t, in.ExitCode)
	require.Equal(t, 3, *in.ExitCode)
	require.Contains(t, in.LastError, "exited with code 3")
	require.Contains(t, in.LogTail, "boom: cannot open the database")
	require.False(t, in.Healthy)

	// A command that cannot even start is an exited instance too, not a failed launch:
	// the launch key keeps meaning the same instances.
	var resp api.LaunchResponse
	_, err := d.Do(http.MethodPost, api.PathInstances, api.LaunchRequest{
		Key: "missing", Version: "v2", Count: 1, Command: []string{"/nonexistent/server"},
	}, &resp)
	require.NoError(t, err)
	require.Len(t, resp.Instances, 1)
	require.Equal(t, api.StatusExited, resp.Instances[0].Status)
	require.Contains(t, resp.Instances[0].LastError, "cannot start")
}

func TestTerminateKillsTheProcessAndIsIdempotent(t *testing.T) {
	d := start(t)
	in := launch(t, d, "k", "v1", 1, nil)[0]
	waitHealthy(t, d, in)
	attach(t, d, in)

	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{in.ID}})
	require.True(t, localcloudtest.Gone(in.PID), "terminate returns once the process is gone")
	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{in.ID}})
	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{"i-unknown"}})

	require.Empty(t, state(t, d).Instances, "terminated instances leave the fleet")
	var all api.State
	_, err := d.Do(http.MethodGet, api.PathState+"?all=1", nil, &all)
	require.NoError(t, err)
	require.Equal(t, api.StatusTerminated, find(t, all, in.ID).Status)

	status, _ := get(t, d.LB+"/")
	require.Equal(t, http.StatusServiceUnavailable, status)
	var e api.Error
	status, err = d.Do(http.MethodPost, api.PathAttach, api.IDs{IDs: []string{in.ID}}, &e)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, status, e.Error)
}

func TestTerminateKillsAnInstanceThatIgnoresSIGTERM(t *testing.T) {
	cfg := localcloudtest.TestConfig(t.TempDir())
	cfg.StopGrace = 200 * time.Millisecond
	d := localcloudtest.Start(t, cfg)
	var resp api.LaunchResponse
	_, err := d.Do(http.MethodPost, api.PathInstances, api.LaunchRequest{
		Key: "stubborn", Version: "v1", Count: 1,
		Command: []string{"/bin/sh", "-c", "trap '' TERM; sleep 60 & wait; wait"},
	}, &resp)
	require.NoError(t, err)
	in := resp.Instances[0]
	require.Equal(t, api.StatusRunning, in.Status)

	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{in.ID}})
	require.True(t, localcloudtest.Gone(in.PID))
}

func TestShutdownCanTerminateEveryInstance(t *testing.T) {
	d := start(t)
	ins := launch(t, d, "k", "v1", 2, nil)
	status, err := d.Do(http.MethodPost, api.PathShutdown, api.ShutdownRequest{Terminate: true}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	require.NoError(t, d.Wait())
	for _, in := range ins {
		require.True(t, localcloudtest.Gone(in.PID))
	}
}
