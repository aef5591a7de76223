package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// scheduledSpec releases board to prod on the memory fleet without approval; the soak
// outlasts a few schedule intervals, so that runs fall due while the release runs.
const scheduledSpec = `service: board
environment: prod
target:
  provider: memory
  instances: 4
canary:
  instances: 1
  soak: 8s
  analysis:
    interval: 1s
    provider: health
    failureLimit: 2
  approval: { required: false }
promote: { strategy: rolling, batch: 50% }
drain: { timeout: 5s }
`

// firstRun waits (a minute at most) for the schedule's first run to end and returns what it says.
func firstRun(ctx context.Context, t *testing.T, c client.Client, name string) workflows.ScheduledRun {
	t.Helper()
	var run client.ScheduleWorkflowExecution
	require.Eventually(t, func() bool {
		d, err := c.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(name)).Describe(ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		run = *d.Info.RecentActions[0].StartWorkflowResult
		return true
	}, time.Minute, 200*time.Millisecond, "schedule %s never ran", name)
	var out workflows.ScheduledRun
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, c.GetWorkflow(wctx, run.WorkflowID, run.FirstExecutionRunID).Get(wctx, &out), "the run of %s did not end", name)
	return out
}

// TestScheduledRelease puts a release on a schedule on a real dev server: the schedule
// fires by itself, the run resolves the version from a command and releases it on the
// memory fleet, runs that fall due meanwhile are skipped (overlap skip), and a run
// during a freeze is skipped when the schedule says so.
func TestScheduledRelease(t *testing.T) {
	srv := testharness.StartServer(t)
	mem := memory.New()
	mem.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: mem.Factory})
	e := &env{addr: srv.Address, mem: mem}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	dir := t.TempDir()
	spec := filepath.Join(dir, "release.yaml")
	writeFile(t, spec, scheduledSpec)
	// The latest green build, as a build server's script would print it; each call is
	// counted, so that skipped runs are seen not to have started.
	calls := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "latest-green")
	writeFile(t, script, "#!/bin/sh\necho \"$ZERODOWN_SCHEDULE\" >> '"+calls+"'\necho\necho v2\necho 'build 1234, green'\n")
	require.NoError(t, os.Chmod(script, 0o755))

	// Mistakes are refused before anything is created.
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"-f", spec, "--every", "2s"}, "say the version"},
		{[]string{"-f", spec, "--version", "v2"}, "say when"},
		{[]string{"-f", spec, "--version-command", "'unclosed", "--every", "2s"}, "--version-command: unclosed ' quote"},
		{[]string{"-f", spec, "--version", "v2", "--cron", "30 9 * * *", "--timezone", "Mars/Olympus"}, `--timezone "Mars/Olympus"`},
		{[]string{"-f", spec, "--version-url", "file:///etc/passwd", "--every", "2s"}, "an http:// or https:// URL"},
		{[]string{"-f", spec, "--version", "v2", "--every", "2s", "--in-freeze", "maybe"}, "--in-freeze"},
		{[]string{"-f", spec, "--version", "v2", "--every", "2s", "--catchup-window", "0s"}, "--catchup-window 0s: at least 10s"},
	} {
		r := e.run(t, append([]string{"schedule", "create", "daily"}, tc.argv...)...)
		require.Equal(t, cli.ExitUsage, r.code, "%v", tc.argv)
		require.Contains(t, r.stderr, tc.want)
	}

	r := e.run(t, "schedule", "create", "daily", "-f", spec, "--version-command", script, "--every", "2s", "--by", "miro")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "created schedule/daily: release board to prod, version the output of "+script)
	r = e.run(t, "schedule", "create", "daily", "-f", spec, "--version", "v2", "--every", "2s")
	require.Equal(t, cli.ExitRefused, r.code, r.stderr)

	// It fires by itself; while the release runs, the runs falling due are skipped.
	h := srv.Client.ScheduleClient().GetHandle(ctx, workflows.ScheduleID("daily"))
	require.Eventually(t, func() bool {
		d, err := h.Describe(ctx)
		return err == nil && d.Info.NumActionsSkippedOverlap >= 1
	}, time.Minute, 200*time.Millisecond, "no run was skipped while the first ran")
	r = e.run(t, "schedule", "pause", "daily", "--reason", "one is enough for the test")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "schedule/daily: paused")

	run := firstRun(ctx, t, srv.Client, "daily")
	require.Equal(t, "v2", run.Version)
	require.Equal(t, "command "+script, run.VersionFrom)
	require.Equal(t, "release/board/prod", run.Target)
	require.Equal(t, string(workflows.PhaseSucceeded), run.Outcome)
	require.Equal(t, map[string]int{"v2": 4}, e.versions(t))
	st, ok := e.status(t, "board/prod")
	require.True(t, ok)
	require.Equal(t, "v2", st.Version)
	require.Equal(t, "schedule/daily", st.StartedBy)
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, d.Info.NumActions, "only the first run started")
	resolved, err := os.ReadFile(calls)
	require.NoError(t, err)
	require.Equal(t, "daily\n", string(resolved), "the version was resolved once, by the one run that started")

	r = e.run(t, "schedule", "list")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Regexp(t, `daily\s+paused\s+-\s+release board to prod`, r.stdout)

	// In a freeze, a schedule that says skip ends its run Skipped and touches nothing.
	r = e.run(t, "freeze", "declare", "--env", "prod", "--until", "1h", "--reason", "quarter close", "--by", "carol")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	r = e.run(t, "schedule", "create", "frozen", "-f", spec, "--version", "v3", "--every", "1h", "--in-freeze", "skip", "--paused")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	r = e.run(t, "schedule", "trigger", "frozen")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	skipped := firstRun(ctx, t, srv.Client, "frozen")
	require.Equal(t, workflows.ScheduledSkipped, skipped.Outcome)
	require.True(t, strings.HasPrefix(skipped.Frozen, "prod frozen until "), skipped.Frozen)
	require.Contains(t, skipped.Frozen, "by carol: quarter close")
	require.Equal(t, map[string]int{"v2": 4}, e.versions(t))

	// A schedule that says wait (the default) waits on a durable timer for the freeze to
	// end, then releases. The freeze is lifted and a shorter one declared.
	r = e.run(t, "freeze", "lift", "prod-1", "--env", "prod", "--reason", "closed early")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	declared := time.Now()
	r = e.run(t, "freeze", "declare", "--env", "prod", "--until", "3s", "--reason", "deploy window opens soon", "--by", "carol")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	r = e.run(t, "schedule", "create", "waits", "-f", spec, "--version", "v3", "--every", "1h", "--paused")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	r = e.run(t, "schedule", "trigger", "waits")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	waited := firstRun(ctx, t, srv.Client, "waits")
	require.Equal(t, string(workflows.PhaseSucceeded), waited.Outcome)
	require.Contains(t, waited.Frozen, "deploy window opens soon")
	require.Equal(t, "fixed", waited.VersionFrom)
	require.Equal(t, map[string]int{"v3": 4}, e.versions(t))
	st, ok = e.status(t, "board/prod")
	require.True(t, ok)
	require.True(t, st.Started.After(declared.Add(3*time.Second)), "the release started at %s, before the freeze ended", st.Started)

	for _, name := range []string{"daily", "frozen", "waits"} {
		r = e.run(t, "schedule", "delete", name)
		require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	}
	r = e.run(t, "schedule", "delete", "daily")
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, "no schedule schedule/daily")
}

// TestScheduledChange puts a change on a schedule: a triggered run starts change/<name>
// as the schedule, the change runs (its confirmation answered through the CLI) and the
// run ends with the change's outcome.
func TestScheduledChange(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, "schedule", "create", "nightly", "--change", changeFile, "--version", "v9", "--every", "1h")
	require.Equal(t, cli.ExitUsage, r.code, "a change's versions are in its file")
	r = e.run(t, "schedule", "create", "nightly", "--change", changeFile, "--every", "1h", "--paused")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "created schedule/nightly: change cli-night in prod")
	r = e.run(t, "schedule", "trigger", "nightly")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Eventually(t, func() bool {
		st, ok := e.changeStatus(t, "cli-night")
		s, _ := st.Step("landing")
		return ok && s.State == workflows.StepRunning
	}, time.Minute, 250*time.Millisecond, "the scheduled change never reached its landing step")
	st, _ := e.changeStatus(t, "cli-night")
	require.Equal(t, "schedule/nightly", st.StartedBy)
	r = e.run(t, "change", "confirm", "cli-night", "landing", "--all", "--by", "client")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)

	c, err := client.Dial(client.Options{HostPort: e.addr})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := firstRun(ctx, t, c, "nightly")
	require.Equal(t, "change/cli-night", run.Target)
	require.Equal(t, string(workflows.PhaseSucceeded), run.Outcome)
	require.Equal(t, map[string]int{"v2": 4}, e.versions(t))
}
