package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/workflows"
)

func TestRevertUsage(t *testing.T) {
	for _, argv := range [][]string{
		{"revert", "board/prod"},
		{"revert", "board/prod", "web1", "web2"},
		{"revert", "board", "web1"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			r := zerodown(t, nil, argv...)
			require.Equal(t, cli.ExitUsage, r.code)
			require.True(t, strings.HasPrefix(r.stderr, "usage: "), r.stderr)
		})
	}
	r := zerodown(t, nil, "revert", "--help")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Contains(t, r.stdout, "--then stop: the release stops and rolls back")
}

// Each fixed server of an in-place release, with its version and state.
func TestRenderStatusListsServers(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 10, 0, 0, time.Local)
	st := workflows.Status{
		ReleaseID: "release/board/prod", Service: "board", Environment: "prod",
		Version: "v2", PreviousVersion: "v1", Phase: workflows.PhasePromoting,
		Phases: []workflows.PhaseRecord{{Phase: workflows.PhasePromoting, Started: now.Add(-time.Minute)}},
		Servers: []workflows.ServerStatus{
			{Name: "web1", Version: "v2", State: workflows.ServerServing},
			{Name: "web2", Version: "v1", State: workflows.ServerReverted},
			{Name: "web3", Version: "v1", State: workflows.ServerDeploying},
			{Name: "web4", State: workflows.ServerWaiting},
		},
	}
	out := cli.RenderStatus(st, now)
	for _, want := range []string{
		"servers  web1         v2         serving",
		"         web2         v1         reverted",
		"         web3         v1         deploying",
		"         web4         (unknown)  waiting",
	} {
		require.Contains(t, out, want)
	}
}
