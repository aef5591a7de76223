//go:build unix

package activities_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// launched starts n instances of the memory fleet and returns their IDs.
func launched(t *testing.T, env *testsuite.TestActivityEnvironment, acts *activities.Activities, n int) []string {
	t.Helper()
	v, err := env.ExecuteActivity(acts.Launch, activities.LaunchInput{Target: target, Key: "k", Version: "v2", Count: n})
	require.NoError(t, err)
	var insts []fleet.Instance
	require.NoError(t, v.Get(&insts))
	var ids []string
	for _, i := range insts {
		ids = append(ids, i.ID)
	}
	return ids
}

// A command hook sees what its spec gives it and nothing else of the worker's
// environment: the hook prints its whole environment into a file.
func TestCommandHookRunsInACleanEnvironment(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-worker-secret-token")
	t.Setenv("DATABASE_HOST", "db-internal-7f3a.example")
	t.Setenv("DEPLOY_CREDENTIAL", "needed-by-the-hook")
	t.Setenv("LANG", "")
	env, _, acts := setup(t)
	ids := launched(t, env, acts, 1)
	dump := filepath.Join(t.TempDir(), "env")
	hook := schemas.Hook{Name: "smoke", Command: &schemas.CommandHook{
		Args:    []string{"sh", "-c", "env > " + dump},
		PassEnv: []string{"DEPLOY_CREDENTIAL", "NOT_SET_ON_THE_WORKER"},
		Env:     map[string]string{"SMOKE_TARGET": "canary", "ZERODOWN_STAGE": "spoofed"},
	}}
	_, err := env.ExecuteActivity(acts.RunHook, activities.HookInput{Target: target, Hook: hook, Stage: "preTraffic", Version: "v2", IDs: ids})
	require.NoError(t, err)
	b, err := os.ReadFile(dump)
	require.NoError(t, err)
	var names []string
	vars := map[string]string{}
	for line := range strings.Lines(string(b)) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), "=")
		vars[name] = value
		if name != "PWD" && name != "SHLVL" && name != "_" { // the shell's own
			names = append(names, name)
		}
	}
	require.ElementsMatch(t, []string{"PATH", "HOME", "LANG", "DEPLOY_CREDENTIAL", "SMOKE_TARGET",
		"ZERODOWN_STAGE", "ZERODOWN_VERSION", "ZERODOWN_INSTANCES"}, names)
	require.Equal(t, os.Getenv("PATH"), vars["PATH"])
	require.Equal(t, "C.UTF-8", vars["LANG"], "the worker's LANG is empty: the default")
	require.Equal(t, "needed-by-the-hook", vars["DEPLOY_CREDENTIAL"])
	require.Equal(t, "preTraffic", vars["ZERODOWN_STAGE"], "the release's variables win over the spec's")
	require.Equal(t, "v2", vars["ZERODOWN_VERSION"])
	require.Contains(t, vars, "ZERODOWN_INSTANCES")
}

func TestHookEnvDefaults(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	require.Equal(t, []string{"HOME=/", "LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ZERODOWN_STAGE=postPromote"},
		activities.HookEnv(&schemas.CommandHook{PassEnv: []string{"HOME"}}, none, "ZERODOWN_STAGE=postPromote"))
}

// A failing hook's error ends with the end of its output, bounded, cut on a character.
func TestFailingHookShowsTheEndOfItsOutput(t *testing.T) {
	env, _, acts := setup(t)
	ids := launched(t, env, acts, 1)
	// 1 MiB of output, then a two-byte character across the cut, then the last words.
	script := `head -c 1048576 /dev/zero | tr '\0' x; printf 'é%0501d' 0; echo; echo "it broke" >&2; exit 3`
	hook := schemas.Hook{Name: "noisy", Command: &schemas.CommandHook{Args: []string{"sh", "-c", script}}}
	_, err := env.ExecuteActivity(acts.RunHook, activities.HookInput{Target: target, Hook: hook, Stage: "preTraffic", Version: "v2", IDs: ids})
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "hook noisy: exit status 3: ")
	require.Contains(t, msg, "it broke")
	require.NotContains(t, msg, "xx")
	require.NotContains(t, msg, "\uFFFD", "the cut is on a character boundary")
	require.Less(t, len(msg), 700)
}

// A hook that leaves a child running with its output open fails or passes when the hook
// itself exits, not when the child does.
func TestHookDoesNotWaitForItsBackgroundChildren(t *testing.T) {
	env, _, acts := setup(t)
	ids := launched(t, env, acts, 1)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	t.Cleanup(func() { // the child is ours: stop it
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	hook := schemas.Hook{Name: "daemon", Command: &schemas.CommandHook{Args: []string{"sh", "-c", "sleep 300 & echo $! > " + pidFile + "; echo started; exit 4"}}}
	done := make(chan error, 1)
	go func() {
		_, err := env.ExecuteActivity(acts.RunHook, activities.HookInput{Target: target, Hook: hook, Stage: "preTraffic", Version: "v2", IDs: ids})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "hook daemon: exit status 4")
	case <-time.After(time.Minute): // a watchdog, far below the child's 300 s
		t.Fatal("RunHook waited for the hook's background child")
	}
}
