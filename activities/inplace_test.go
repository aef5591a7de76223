//go:build unix

package activities_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/schemas"
)

// The activities reach the haproxy fleet's in-place methods through an interface of
// their own (the workflows must not link fleet/haproxy): the two must not drift.
var _ activities.InPlaceFleet = (haproxy.InPlace)(nil)

var inPlaceTarget = schemas.Target{Provider: schemas.ProviderHAProxy, Instances: 2, HAProxy: &schemas.HAProxySpec{
	RuntimeAPI: "/nonexistent/haproxy.sock", Backend: "board",
	Servers: []schemas.HAProxyServer{{Name: "web1", Address: "127.0.0.1:9", Vars: map[string]string{"host": "web1.example.com"}}, {Name: "web2"}},
}}

// The deploy command gets its server's values in its arguments and the clean
// environment of hooks, never the worker's.
func TestDeployRunsTheRenderedCommandInACleanEnvironment(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-worker-secret-token")
	t.Setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
	env, _, acts := setup(t)
	dump := filepath.Join(t.TempDir(), "out")
	d := schemas.Deploy{
		Command: []string{"sh", "-c", `echo "$1 $2 $3" > ` + dump + `; env >> ` + dump, "deploy", "{{.Server}}", "{{.Vars.host}}", "version={{.Version}}"},
		PassEnv: []string{"SSH_AUTH_SOCK"},
		Env:     map[string]string{"PLAYBOOK": "site.yml"},
	}
	_, err := env.ExecuteActivity(acts.Deploy, activities.DeployInput{Target: inPlaceTarget, Deploy: d, Server: "web1", Version: "v2", Release: "release/board/prod"})
	require.NoError(t, err)
	b, err := os.ReadFile(dump)
	require.NoError(t, err)
	out := string(b)
	first, _, _ := strings.Cut(out, "\n")
	require.Equal(t, "web1 web1.example.com version=v2", first)
	require.Contains(t, out, "ZERODOWN_SERVER=web1\n")
	require.Contains(t, out, "ZERODOWN_VERSION=v2\n")
	require.Contains(t, out, "ZERODOWN_RELEASE=release/board/prod\n")
	require.Contains(t, out, "SSH_AUTH_SOCK=/tmp/agent.sock\n")
	require.Contains(t, out, "PLAYBOOK=site.yml\n")
	require.NotContains(t, out, "xoxb-worker-secret-token")
}

// A deploy that exits non-zero fails for good, with the end of its output; one that
// outlives deploy.timeout is killed and fails for good too.
func TestDeployFailuresAreFinal(t *testing.T) {
	env, _, acts := setup(t)
	d := schemas.Deploy{Command: []string{"sh", "-c", "echo installing {{.Version}}; echo 'package not found' >&2; exit 7"}}
	_, err := env.ExecuteActivity(acts.Deploy, activities.DeployInput{Target: inPlaceTarget, Deploy: d, Server: "web2", Version: "v9"})
	require.ErrorContains(t, err, "deploy of v9 on web2: exit status 7: installing v9\npackage not found")
	require.Equal(t, activities.ErrTypeDeployFailed, nonRetryableType(err))

	d = schemas.Deploy{Command: []string{"sleep", "300"}, Timeout: schemas.Duration(300 * time.Millisecond)}
	done := make(chan error, 1)
	go func() {
		_, err := env.ExecuteActivity(acts.Deploy, activities.DeployInput{Target: inPlaceTarget, Deploy: d, Server: "web2", Version: "v2"})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "deploy of v2 on web2 still running after 300ms (deploy.timeout), killed")
	case <-time.After(time.Minute): // a watchdog, far below the command's 300 s
		t.Fatal("the deploy outlived its timeout")
	}

	_, err = env.ExecuteActivity(acts.Deploy, activities.DeployInput{Target: inPlaceTarget, Deploy: d, Server: "web7", Version: "v2"})
	require.ErrorContains(t, err, "web7 is not in target.haproxy.servers")
}

// A fleet that cannot upgrade servers in place says so, naming its provider.
func TestMaintenanceRefusesAFleetWithoutInPlace(t *testing.T) {
	env, _, acts := setup(t)
	ids := launched(t, env, acts, 1)
	_, err := env.ExecuteActivity(acts.Maintenance, activities.IDsInput{Target: target, IDs: ids})
	require.ErrorContains(t, err, "provider memory cannot upgrade servers in place")
	_, err = env.ExecuteActivity(acts.RecordVersion, activities.RecordVersionInput{Target: target, Server: ids[0], Version: "v2"})
	require.ErrorContains(t, err, "provider memory cannot upgrade servers in place")
}
