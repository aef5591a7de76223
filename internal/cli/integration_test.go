package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// env is a real Temporal dev server with a zerodown worker on an in-memory fleet that
// already serves v1.
type env struct {
	addr string
	mem  *memory.Fleet
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := testharness.StartServer(t)
	mem := memory.New()
	mem.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: mem.Factory})
	return &env{addr: srv.Address, mem: mem}
}

func (e *env) run(t *testing.T, argv ...string) result {
	t.Helper()
	return zerodown(t, nil, append(argv, "--address", e.addr)...)
}

func (e *env) start(t *testing.T, argv ...string) <-chan result {
	t.Helper()
	return zerodownAsync(t, append(argv, "--address", e.addr)...)
}

// status reads the release's status through `zerodown status -o json`.
func (e *env) status(t *testing.T, release string) (workflows.Status, bool) {
	t.Helper()
	r := zerodown(t, nil, "status", release, "-o", "json", "--address", e.addr)
	var st workflows.Status
	if r.code != cli.ExitSucceeded || json.Unmarshal([]byte(r.stdout), &st) != nil {
		return st, false
	}
	return st, true
}

// versions counts the fleet's live instances per version.
func (e *env) versions(t *testing.T) map[string]int {
	t.Helper()
	st, err := e.mem.Describe(context.Background())
	require.NoError(t, err)
	return st.ByVersion()
}

func (e *env) waitPhase(t *testing.T, release string, phase workflows.Phase) {
	t.Helper()
	require.Eventually(t, func() bool {
		st, ok := e.status(t, release)
		return ok && st.Phase == phase
	}, time.Minute, 250*time.Millisecond, "release %s never reached %s", release, phase)
}

func TestReleaseApprovedThroughTheCLI(t *testing.T) {
	e := newEnv(t)
	waited := e.start(t, "start", "-f", goodSpec, "--version", "v2", "--by", "ci", "--wait")
	e.waitPhase(t, "board/prod", workflows.PhaseAwaitingApproval)

	// One release per service and environment at a time.
	r := e.run(t, "start", "-f", goodSpec, "--version", "v3")
	require.Equal(t, cli.ExitRefused, r.code)
	require.Regexp(t, `^refused: release/board/prod is already running \(run id [0-9a-f-]+\): approve, abort or wait for it\n$`, r.stderr)

	// The workflow's validator refuses an approver who is not on the list.
	r = e.run(t, "approve", "board/prod", "--by", "mallory")
	require.Equal(t, cli.ExitRefused, r.code)
	require.True(t, strings.HasPrefix(r.stderr, "refused: "), r.stderr)
	require.Contains(t, r.stderr, "mallory")

	text := e.run(t, "status", "board/prod")
	require.Equal(t, cli.ExitSucceeded, text.code)
	require.Contains(t, text.stdout, "phase    AwaitingApproval")
	require.Contains(t, text.stdout, "approval waiting for alice, bob")

	r = e.run(t, "approve", "release/board/prod", "--by", "alice", "--comment", "graphs look fine")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Contains(t, r.stdout, "approved release/board/prod (by alice)")

	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code, res.stderr)
	require.Contains(t, res.stdout, "started release/board/prod (run id ")
	require.Contains(t, res.stdout, "Soaking")
	require.Contains(t, res.stdout, "succeeded: board v2 to prod")

	// A finished release still answers, from its result.
	st, ok := e.status(t, "board/prod")
	require.True(t, ok)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, map[string]int{"v2": 4}, e.versions(t))

	// Updates to a finished release are refused, not lost.
	r = e.run(t, "abort", "board/prod", "--by", "bob")
	require.Equal(t, cli.ExitRefused, r.code)

	// Visibility is eventually consistent: the list catches up with the search attributes.
	require.Eventually(t, func() bool {
		r := e.run(t, "list", "--service", "board")
		return r.code == cli.ExitSucceeded && strings.Contains(r.stdout, "release/board/prod") &&
			strings.Contains(r.stdout, "v2") && strings.Contains(r.stdout, "Succeeded")
	}, 30*time.Second, 500*time.Millisecond)

	// A new release of the same service and environment may start once the last ended.
	waited = e.start(t, "start", "-f", goodSpec, "--version", "v3", "--wait")
	e.waitPhase(t, "board/prod", workflows.PhaseAwaitingApproval)
	r = e.run(t, "abort", "board/prod", "--by", "bob", "--reason", "not today")
	require.Equal(t, cli.ExitSucceeded, r.code)
	res = <-waited
	require.Equal(t, cli.ExitAborted, res.code)
	require.Contains(t, res.stdout, "aborted: board v3 to prod was aborted and rolled back")
}

func TestFailedReleaseRollsBackWithExitCode5(t *testing.T) {
	e := newEnv(t)
	e.mem.SetUnhealthy("v2", true)
	res := <-e.start(t, "start", "-f", goodSpec, "--version", "v2", "--wait")
	require.Equal(t, cli.ExitRolledBack, res.code)
	require.Contains(t, res.stdout, "rolled back: board v2 to prod")
	st, ok := e.status(t, "board/prod")
	require.True(t, ok)
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.NotEmpty(t, st.Error)

	// --watch on an ended release prints it once and exits with its outcome.
	r := e.run(t, "status", "board/prod", "--watch")
	require.Equal(t, cli.ExitRolledBack, r.code)
	require.Contains(t, r.stdout, "phase    RolledBack")
}

func TestPauseResumePromoteThroughTheCLI(t *testing.T) {
	e := newEnv(t)
	waited := e.start(t, "start", "-f", "testdata/longsoak.yaml", "--version", "v2", "--wait")
	e.waitPhase(t, "api/staging", workflows.PhaseSoaking)

	r := e.run(t, "pause", "api/staging", "--by", "alice")
	require.Equal(t, cli.ExitSucceeded, r.code)
	st, ok := e.status(t, "api/staging")
	require.True(t, ok)
	require.True(t, st.Paused)
	require.Equal(t, "alice", st.PausedBy)

	r = e.run(t, "pause", "api/staging", "--by", "bob")
	require.Equal(t, cli.ExitRefused, r.code)
	require.Contains(t, r.stderr, "refused: already paused by alice")

	require.Equal(t, cli.ExitSucceeded, e.run(t, "resume", "api/staging", "--by", "alice").code)
	// An hour of soak left: promote skips it.
	r = e.run(t, "promote", "api/staging", "--by", "alice")
	require.Equal(t, cli.ExitSucceeded, r.code)
	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code)
	require.Contains(t, res.stdout, "paused: ")
	require.Contains(t, res.stdout, "succeeded: api v2 to staging, 2 instance(s) serving")

	r = e.run(t, "approve", "nosuch/env")
	require.Equal(t, cli.ExitError, r.code)
	require.Equal(t, "error: no release release/nosuch/env: start one with zerodown start\n", r.stderr)
	r = e.run(t, "status", "nosuch/env")
	require.Equal(t, cli.ExitError, r.code)
	require.Equal(t, "error: no release release/nosuch/env\n", r.stderr)
}
