//go:build unix

package localcloud_test

import (
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

// fakeBin is the fake instance program, built once for all tests.
var fakeBin string

func TestMain(m *testing.M) { os.Exit(localcloudtest.MainWithFakeInstance(m, &fakeBin)) }

func start(t *testing.T) *localcloudtest.Daemon {
	return localcloudtest.Start(t, localcloudtest.TestConfig(t.TempDir()))
}

func launch(t *testing.T, d *localcloudtest.Daemon, key, version string, count int, env map[string]string) []api.Instance {
	t.Helper()
	var resp api.LaunchResponse
	status, err := d.Do(http.MethodPost, api.PathInstances, api.LaunchRequest{
		Key: key, Version: version, Count: count, Command: localcloudtest.FakeCommand(fakeBin), Env: env,
	}, &resp)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, status)
	require.Len(t, resp.Instances, count)
	return resp.Instances
}

func state(t *testing.T, d *localcloudtest.Daemon) api.State {
	t.Helper()
	var st api.State
	status, err := d.Do(http.MethodGet, api.PathState, nil, &st)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return st
}

func find(t *testing.T, st api.State, id string) api.Instance {
	t.Helper()
	for _, in := range st.Instances {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("instance %s not in state", id)
	return api.Instance{}
}

// waitInstance polls the state until cond holds for the instance.
func waitInstance(t *testing.T, d *localcloudtest.Daemon, id, what string, cond func(api.Instance) bool) {
	t.Helper()
	var last api.Instance
	require.Eventually(t, func() bool {
		last = find(t, state(t, d), id)
		return cond(last)
	}, 10*time.Second, 20*time.Millisecond, "instance %s never became %s; last: %+v", id, what, &last)
}

func waitHealthy(t *testing.T, d *localcloudtest.Daemon, ins ...api.Instance) {
	t.Helper()
	for _, in := range ins {
		waitInstance(t, d, in.ID, "healthy", func(in api.Instance) bool { return in.Healthy })
	}
}

func ok(t *testing.T, d *localcloudtest.Daemon, method, path string, body any) {
	t.Helper()
	var e api.Error
	status, err := d.Do(method, path, body, &e)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, e.Error)
}

func attach(t *testing.T, d *localcloudtest.Daemon, ins ...api.Instance) {
	t.Helper()
	ok(t, d, http.MethodPost, api.PathAttach, api.IDs{IDs: ids(ins)})
}

func detach(t *testing.T, d *localcloudtest.Daemon, timeout string, ins ...api.Instance) {
	t.Helper()
	ok(t, d, http.MethodPost, api.PathDetach, api.DetachRequest{IDs: ids(ins), DrainTimeout: timeout})
}

func ids(ins []api.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

// client talks to the load balancer over keep-alive connections, as a browser would.
var client = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}

// get sends one request and returns the status and the instance that served it.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get(api.HeaderInstance)
}
