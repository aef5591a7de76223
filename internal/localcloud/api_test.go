//go:build unix

package localcloud_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/localcloud"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
)

func TestAPIRefusesBadRequests(t *testing.T) {
	d := start(t)
	cmd := localcloudtest.FakeCommand(fakeBin)
	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		msg          string
	}{
		{"not json", http.MethodPost, api.PathInstances, "nope", 400, "invalid JSON"},
		{"unknown field", http.MethodPost, api.PathInstances, map[string]any{"key": "k", "versoin": "v1"}, 400, "unknown field"},
		{"no key", http.MethodPost, api.PathInstances, api.LaunchRequest{Version: "v1", Count: 1, Command: cmd}, 400, "key is required"},
		{"no version", http.MethodPost, api.PathInstances, api.LaunchRequest{Key: "k", Count: 1, Command: cmd}, 400, "version is required"},
		{"zero count", http.MethodPost, api.PathInstances, api.LaunchRequest{Key: "k", Version: "v1", Command: cmd}, 400, "count 0"},
		{"no command", http.MethodPost, api.PathInstances, api.LaunchRequest{Key: "k", Version: "v1", Count: 1}, 400, "command is required"},
		{"bad template", http.MethodPost, api.PathInstances, api.LaunchRequest{Key: "k", Version: "v1", Count: 1, Command: []string{"x", "{{.Prot}}"}}, 400, "command[1]"},
		{"attach unknown", http.MethodPost, api.PathAttach, api.IDs{IDs: []string{"i-nope"}}, 404, "i-nope"},
		{"attach nothing", http.MethodPost, api.PathAttach, api.IDs{}, 400, "ids is empty"},
		{"detach unknown", http.MethodPost, api.PathDetach, api.DetachRequest{IDs: []string{"i-nope"}}, 404, "i-nope"},
		{"bad drain timeout", http.MethodPost, api.PathDetach, api.DetachRequest{IDs: []string{"i-nope"}, DrainTimeout: "soon"}, 400, "not a duration"},
		{"negative weight", http.MethodPut, api.PathWeights, map[string]int{"v1": -1}, 400, "weight -1"},
		{"terminate nothing", http.MethodPost, api.PathTerminate, api.IDs{}, 400, "ids is empty"},
		{"no such endpoint", http.MethodGet, "/v2/whatever", nil, 404, "no such endpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e api.Error
			status, err := d.Do(c.method, c.path, c.body, &e)
			require.NoError(t, err)
			require.Equal(t, c.status, status, e.Error)
			require.Contains(t, e.Error, c.msg)
		})
	}
	require.Empty(t, state(t, d).Instances, "a refused launch starts nothing")
	ok(t, d, http.MethodGet, api.PathHealthz, nil)
}

func TestServiceDiscoveryFileFollowsTheFleet(t *testing.T) {
	d := start(t)
	in := launch(t, d, "k", "v1", 1, nil)[0]
	attach(t, d, in)

	type target struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	read := func() []target {
		b, err := os.ReadFile(filepath.Join(d.StateDir, "targets.json"))
		require.NoError(t, err)
		var ts []target
		require.NoError(t, json.Unmarshal(b, &ts))
		return ts
	}
	ts := read()
	require.Len(t, ts, 1)
	require.Equal(t, []string{in.Address}, ts[0].Targets)
	require.Equal(t, map[string]string{"version": "v1", "instance_id": in.ID, "attached": "true"}, ts[0].Labels)

	ok(t, d, http.MethodPost, api.PathTerminate, api.IDs{IDs: []string{in.ID}})
	require.Empty(t, read())
}

func TestInstancesGetTheirTemplateAndEnvironment(t *testing.T) {
	d := start(t)
	in := launch(t, d, "k", "v9", 1, nil)[0]
	waitHealthy(t, d, in)
	resp, err := client.Get("http://" + in.Address + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "v9 "+in.ID+"\n", string(b), "{{.Version}} and {{.ID}} are substituted")
}

func TestTheAPIOnlyListensOnLoopback(t *testing.T) {
	cfg := localcloudtest.TestConfig(t.TempDir())
	cfg.Listen = "0.0.0.0:0"
	_, err := localcloud.Start(context.Background(), cfg)
	require.ErrorContains(t, err, "loopback")
}
