package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
)

const (
	nightChange = "../../examples/changes/night.yaml"
	cycleChange = "../../schemas/testdata/changes/hostile/cycle.yaml"
)

func TestChangeValidateNight(t *testing.T) {
	r := zerodown(t, nil, "change", "validate", nightChange)
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Equal(t, "ok: change night-2026-12-02 (prod, 7 steps)\n", r.stdout)
	require.Empty(t, r.stderr)
}

func TestChangeValidateCycleNamesTheField(t *testing.T) {
	r := zerodown(t, nil, "change", "validate", cycleChange)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Empty(t, r.stdout)
	require.Equal(t, cycleChange+":5: steps[0].after: cycle backup -> expand -> backup: each waits for the next, so none of them could ever start\n", r.stderr)
}

func TestChangeValidateSeveralFilesReportsEach(t *testing.T) {
	bad := "../../schemas/testdata/changes/hostile/release-other-env.yaml"
	r := zerodown(t, nil, "change", "validate", nightChange, cycleChange, bad)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Equal(t, "ok: change night-2026-12-02 (prod, 7 steps)\n", r.stdout)
	require.Contains(t, r.stderr, "steps[0].after: cycle backup -> expand -> backup")
	require.Contains(t, r.stderr, `steps[0].release.spec: services/staging.yaml is a release spec of environment "staging", but the change is for "prod"`)
}

func TestChangeUsageErrors(t *testing.T) {
	for _, argv := range [][]string{
		{"change"},
		{"change", "bogus"},
		{"change", "validate"},
		{"change", "validate", "testdata/missing.yaml"},
		{"change", "plan"},
		{"change", "plan", nightChange, cycleChange},
		{"change", "plan", nightChange, "-o", "yaml"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			r := zerodown(t, nil, argv...)
			require.Equal(t, cli.ExitUsage, r.code)
			require.True(t, strings.HasPrefix(r.stderr, "usage: "), r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one clear line")
		})
	}
}

func TestChangePlanNight(t *testing.T) {
	r := zerodown(t, nil, "change", "plan", nightChange)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Equal(t, []string{
		"change night-2026-12-02 (prod): 7 waves",
		"1. backup (command cp .tmp/demo/board.db .tmp/demo/board-night-2026-12-02.db, at most 30m)",
		"2. expand (migration expand bin/demoapp migrate --store .tmp/demo/board.db expand; undo bin/demoapp migrate --store .tmp/demo/board.db undo-expand; contract once api, web finalized)",
		"3. api (release board-api prod v2.4.0: canary 1, soak 20s, 2 batches; held until the change ends)",
		`4. api-sanity (check GET http://127.0.0.1:8080/smoke expects 200 containing "\"ok\":true", 4 tries 10s apart)`,
		"5. web (release board-web prod v7.1.0: canary 1, soak 20s, 1 batch; held until the change ends)",
		"6. web-sanity (check GET http://127.0.0.1:8081/smoke expects 200, 4 tries 10s apart)",
		"7. landing (confirm by 2 of group:client (dana, erin, farid), checklist orders, invoices, search; after 3h: rollback)",
		"then: finalize api, web (drain and terminate their old instances)",
		"then: contract expand, each once no old instance of its contractAfter releases is alive",
		"on failure, rejection or abort: undo what was done, in reverse order",
	}, lines)
}

// Steps that wait for nothing run together: the plan shows them in one wave, in file order.
func TestChangePlanParallelWavesAsJSON(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parallel.yaml")
	writeFile(t, path, `
change: parallel
environment: prod
steps:
  - { id: sanity, after: [expand, notes], check: { command: [/bin/true], retries: 0 } }
  - { id: backup, command: { run: [/bin/true] } }
  - { id: notes, command: { run: [/bin/true] } }
  - { id: expand, after: [backup], migration: { expand: [/bin/true], undo: [/bin/true] } }
`)
	r := zerodown(t, nil, "change", "plan", path)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "\n1. backup (command /bin/true, at most 10m), notes (command /bin/true, at most 10m)\n2. expand (")
	require.Contains(t, r.stdout, "\n3. sanity (check /bin/true, 1 try 10s apart)\n")
	require.NotContains(t, r.stdout, "finalize")

	r = zerodown(t, nil, "change", "plan", path, "-o", "json")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	var p cli.ChangePlan
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &p))
	require.Equal(t, "parallel", p.Change)
	var waves [][]string
	for _, w := range p.Waves {
		var ids []string
		for _, s := range w {
			ids = append(ids, s.ID+":"+s.Kind)
		}
		waves = append(waves, ids)
	}
	require.Equal(t, [][]string{{"backup:command", "notes:command"}, {"expand:migration"}, {"sanity:check"}}, waves)
	require.Equal(t, []string{"expand", "notes"}, p.Waves[2][0].After)
}

func TestChangePlanRefusesInvalidChange(t *testing.T) {
	r := zerodown(t, nil, "change", "plan", cycleChange)
	require.Equal(t, cli.ExitInvalidSpec, r.code)
	require.Empty(t, r.stdout)
	require.Contains(t, r.stderr, "steps[0].after: cycle backup -> expand -> backup")
}
