package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
)

// tightDeadline leaves 30 minutes between decideBy and doneBy.
const tightDeadline = "deadline: {decideBy: \"06:00\", doneBy: \"06:30\", timezone: Europe/London}\n"

func TestValidateWarnsWhenTheRollbackCannotFitTheDeadline(t *testing.T) {
	good, err := os.ReadFile(goodSpec)
	require.NoError(t, err)
	dir := t.TempDir()
	spec := filepath.Join(dir, "board.yaml")
	// good.yaml's rollback: 5m of health timeout and a 5s drain, in 30 minutes.
	writeFile(t, spec, string(good)+tightDeadline)
	r := zerodown(t, nil, "validate", spec)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Equal(t, "ok: board/prod\n", r.stdout)
	require.Empty(t, r.stderr, "5m5s fits in 30 minutes")

	writeFile(t, spec, strings.Replace(string(good), "drain: { timeout: 5s }", "drain: { timeout: 26m }", 1)+tightDeadline)
	r = zerodown(t, nil, "validate", spec)
	require.Equal(t, cli.ExitSucceeded, r.code, "a warning is not an error")
	require.Equal(t, "ok: board/prod\n", r.stdout)
	require.Equal(t, spec+": warning: deadline: a rollback may take up to 31m (target.healthTimeout 5m + drain.timeout 26m), more than the 30m between decideBy 06:00 and doneBy 06:30: started at decideBy it may not be over by doneBy; move decideBy earlier or shorten those timeouts\n", r.stderr)

	change := filepath.Join(dir, "night.yaml")
	writeFile(t, change, `change: night
environment: prod
steps:
  - {id: board, release: {spec: board.yaml, version: v2}}
`+tightDeadline)
	r = zerodown(t, nil, "change", "validate", change)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stderr, change+": warning: deadline: a rollback may take up to 31m (steps[0] (board.yaml) target.healthTimeout 5m + steps[0] (board.yaml) drain.timeout 26m)")
}
