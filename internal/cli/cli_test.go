package cli_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

const (
	goodSpec = "testdata/good.yaml"
	badSpec  = "testdata/bad.yaml"
)

func TestValidateGoodSpec(t *testing.T) {
	r := zerodown(t, nil, "validate", "-f", goodSpec)
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Equal(t, "ok: board/prod\n", r.stdout)
	require.Empty(t, r.stderr)
}

func TestValidateBadSpecNamesEachField(t *testing.T) {
	r := zerodown(t, nil, "validate", "-f", badSpec)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Empty(t, r.stdout)
	// One line per field, compiler style, so editors and CI logs link to the line.
	require.Contains(t, r.stderr, badSpec+":4: target.provider: must be one of")
	require.Contains(t, r.stderr, badSpec+`:8: canary.soak: "4 hours" is not a duration (use 4h)`)
	require.NotContains(t, r.stderr, "error:")
}

func TestValidateSeveralFilesReportsEach(t *testing.T) {
	r := zerodown(t, nil, "validate", "-f", goodSpec, "-f", badSpec)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Equal(t, "ok: board/prod\n", r.stdout)
	require.Contains(t, r.stderr, "canary.soak")
}

func TestValidateTakesFilesAsArguments(t *testing.T) {
	r := zerodown(t, nil, "validate", goodSpec, badSpec)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Equal(t, "ok: board/prod\n", r.stdout)
	require.Contains(t, r.stderr, badSpec+`:8: canary.soak: "4 hours" is not a duration (use 4h)`)
}

func TestValidateUnparsableYAMLIsInvalid(t *testing.T) {
	path := t.TempDir() + "/broken.yaml"
	writeFile(t, path, "service: [unclosed\n")
	r := zerodown(t, nil, "validate", "-f", path)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
}

func TestUsageErrors(t *testing.T) {
	for _, argv := range [][]string{
		{"bogus"},
		{"validate"},
		{"validate", "-f", "testdata/missing.yaml"},
		{"validate", "--no-such-flag"},
		{"status"},
		{"status", "board"},
		{"status", "board/prod", "--output", "yaml"},
		{"approve", "board/prod", "extra"},
		{"start", "-f", goodSpec},
		{"list", "--limit", "0"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			r := zerodown(t, nil, argv...)
			require.Equal(t, cli.ExitUsage, r.code)
			require.True(t, strings.HasPrefix(r.stderr, "usage: "), r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one clear line")
		})
	}
}

func TestStartRefusesInvalidSpecBeforeConnecting(t *testing.T) {
	r := zerodown(t, nil, "start", "-f", badSpec, "--version", "v2", "--address", closedAddress(t))
	require.Equal(t, cli.ExitInvalidSpec, r.code)
}

func TestCannotConnectIsOneLine(t *testing.T) {
	r := zerodown(t, nil, "status", "board/prod", "--address", closedAddress(t))
	require.Equal(t, cli.ExitError, r.code)
	require.True(t, strings.HasPrefix(r.stderr, "error: cannot connect to Temporal at "), r.stderr)
	require.Equal(t, 1, strings.Count(r.stderr, "\n"))
	require.NotContains(t, r.stderr, "goroutine")
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	r := zerodown(t, nil, "start", "--help")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Contains(t, r.stdout, "6  aborted")
	require.Contains(t, r.stdout, "--wait")
}

func TestPlanAssumesTargetSizeWhenFleetUnreachable(t *testing.T) {
	r := zerodown(t, nil, "plan", "-f", goodSpec, "--version", "v2")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Contains(t, r.stderr, "assuming 4 old instance(s)")
	require.Equal(t, []string{
		"plan: board/prod (none) -> v2 on memory, 4 old instance(s) serving, 4 wanted",
		"canary: launch 1 x v2, wait healthy, run 0 preTraffic hook(s), attach",
		"soak: 2s, check every 1s (health), roll back after 2 failed check(s)",
		"approval: wait up to 1h0m0s for alice, bob, then abort",
		"batch 1/2: launch 2 x v2, wait healthy, attach; detach old down to 1 (serving: 3 new + 1 old)",
		"batch 2/2: launch 1 x v2, wait healthy, attach; detach old down to 0 (serving: 4 new + 0 old)",
		"drain: wait for open connections to reach 0 (at most 5s), terminate 4 old instance(s)",
	}, strings.Split(strings.TrimSpace(r.stdout), "\n"))
}

func TestPlanDescribesTheCurrentFleet(t *testing.T) {
	mem := memory.New()
	mem.Seed("v1", 2)
	r := zerodown(t, fleet.Registry{schemas.ProviderMemory: mem.Factory}, "plan", "-f", goodSpec, "--version", "v2")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "plan: board/prod v1 -> v2 on memory, 2 old instance(s) serving, 4 wanted")
	require.Contains(t, r.stdout, "terminate 2 old instance(s)")
}

func TestOutcomeCodes(t *testing.T) {
	ev := func(kind timeline.EventKind) []workflows.Event { return []workflows.Event{{Kind: kind}} }
	for _, tc := range []struct {
		name string
		st   workflows.Status
		code int
	}{
		{"succeeded", workflows.Status{Phase: workflows.PhaseSucceeded}, cli.ExitSucceeded},
		{"rolled back", workflows.Status{Phase: workflows.PhaseRolledBack, Error: "2 checks failed", Timeline: ev("rollback")}, cli.ExitRolledBack},
		{"aborted (event)", workflows.Status{Phase: workflows.PhaseRolledBack, Timeline: ev("aborted")}, cli.ExitAborted},
		{"aborted (by)", workflows.Status{Phase: workflows.PhaseRolledBack, AbortedBy: "bob"}, cli.ExitAborted},
		{"rollback failed", workflows.Status{Phase: workflows.PhaseFailed, AbortedBy: "bob"}, cli.ExitFailed},
		{"still running", workflows.Status{Phase: workflows.PhaseSoaking}, cli.ExitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, cli.OutcomeCode(tc.st))
		})
	}
}

func TestRenderStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 10, 0, 0, time.Local)
	st := workflows.Status{
		ReleaseID: "release/board/prod", Service: "board", Environment: "prod",
		Version: "v2", PreviousVersion: "v1", Phase: workflows.PhaseAwaitingApproval,
		Phases:  []workflows.PhaseRecord{{Phase: workflows.PhaseAwaitingApproval, Started: now.Add(-5 * time.Minute)}},
		Desired: 4,
		Versions: []workflows.VersionCount{
			{Version: "v1", Total: 4, Healthy: 4, Attached: 4},
			{Version: "v2", Total: 1, Healthy: 1, Attached: 1},
		},
		Traffic:         map[string]int{"v1": 80, "v2": 20},
		PendingApproval: &workflows.PendingApproval{Approvers: []string{"alice"}, Since: now.Add(-5 * time.Minute), RemindedAt: now.Add(-20 * time.Minute), EscalatedAt: now.Add(-time.Minute)},
		PageError:       "escalated page k: no pager",
		Timeline: []workflows.Event{
			{Time: now.Add(-5 * time.Minute), Phase: workflows.PhaseAwaitingApproval, Kind: "approval-requested", Message: "waiting for alice to approve"},
		},
	}
	out := cli.RenderStatus(st, now)
	for _, want := range []string{
		"release/board/prod: board v1 -> v2 in prod",
		"phase    AwaitingApproval since 12:05:00 (5m0s ago)",
		"v2           1 instance(s), 1 healthy, 1 attached",
		"traffic  v1 80%, v2 20%",
		"approval waiting for alice since 12:05:00; reminded 11:50:00; escalated 12:09:00",
		"paging   failed: escalated page k: no pager",
		"12:05:00 AwaitingApproval waiting for alice to approve",
	} {
		require.Contains(t, out, want)
	}
}

func TestFormatEvent(t *testing.T) {
	ev := workflows.Event{Time: time.Date(2026, 1, 2, 12, 1, 5, 0, time.Local), Phase: workflows.PhaseSoaking, Kind: "paused", By: "alice", Message: "paused"}
	require.Equal(t, "12:01:05 Soaking          paused (by alice)", cli.FormatEvent(ev))
}

// closedAddress is a loopback address where nothing listens.
func closedAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
