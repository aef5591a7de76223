package cli_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/workflows"
)

const changeFile = "testdata/change/night.yaml"

func (e *env) changeStatus(t *testing.T, name string) (workflows.ChangeStatus, bool) {
	t.Helper()
	r := zerodown(t, nil, "change", "status", name, "-o", "json", "--address", e.addr)
	var st workflows.ChangeStatus
	if r.code != cli.ExitSucceeded || json.Unmarshal([]byte(r.stdout), &st) != nil {
		return st, false
	}
	return st, true
}

// A change driven through the CLI alone: start --wait, status, a refused and an accepted
// confirmation, the outcome as the exit code.
func TestChangeThroughTheCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	e := newEnv(t)
	waited := e.start(t, "change", "start", changeFile, "--by", "dba", "--wait")
	require.Eventually(t, func() bool {
		st, ok := e.changeStatus(t, "cli-night")
		s, _ := st.Step("landing")
		return ok && s.State == workflows.StepRunning
	}, time.Minute, 250*time.Millisecond, "the landing step never waited for people")

	r := e.run(t, "change", "start", changeFile)
	require.Equal(t, cli.ExitRefused, r.code, "one run of a change at a time: %s %s", r.stdout, r.stderr)

	r = e.run(t, "change", "confirm", "cli-night", "landing", "--item", "orders", "--by", "client")
	require.Equal(t, cli.ExitRefused, r.code)
	require.Contains(t, r.stderr, "invoices not confirmed")

	r = e.run(t, "change", "status", "cli-night")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Regexp(t, `landing +confirm +running`, r.stdout)
	require.Regexp(t, `board +release +done`, r.stdout)

	r = e.run(t, "change", "confirm", "cli-night", "landing", "--all", "--by", "client", "--comment", "orders and invoices fine")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)

	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code, "%s\n%s", res.stdout, res.stderr)
	require.Contains(t, res.stdout, "change/cli-night  Succeeded")
	require.Regexp(t, `board +release +finalized`, res.stdout)
	require.Equal(t, map[string]int{"v2": 4}, e.versions(t))

	r = e.run(t, "change", "abort", "cli-night")
	require.Equal(t, cli.ExitRefused, r.code, "a finished change refuses")
}
