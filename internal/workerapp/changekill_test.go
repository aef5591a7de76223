//go:build unix

package workerapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// A change survives the SIGKILL of the worker that runs its release's activity: the other
// worker carries the held release and the change to their end.
func TestChangeSurvivesTheKillOfAWorker(t *testing.T) {
	w := startTwoWorkers(t, 2)
	srv, cloud, fakeBin, f, ctx := w.srv, w.cloud, w.fakeBin, w.fleet, w.ctx

	dir := t.TempDir()
	release := fmt.Sprintf(`service: board
environment: prod
target:
  provider: local
  instances: 2
  healthTimeout: 1m
  local: { endpoint: %q, command: %s, healthPath: /healthz }
bake: { method: none }
canary: { instances: 1, soak: 3s, analysis: { interval: 1s, provider: health, failureLimit: 3 } }
promote: { strategy: rolling, batch: 1, maxUnavailable: 0 }
drain: { timeout: 10s }
rollback: { automatic: true }
`, cloud.API, mustJSON(t, localcloudtest.FakeCommand(fakeBin)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "board.yaml"), []byte(release), 0o600))
	change := `change: killed-night
environment: prod
steps:
  - { id: before, command: { run: ["true"] } }
  - { id: board, after: [before], release: { spec: board.yaml, version: v2 } }
  - { id: landing, after: [board], confirm: { approvers: [client], checklist: [orders] } }
`
	changeFile := filepath.Join(dir, "night.yaml")
	require.NoError(t, os.WriteFile(changeFile, []byte(change), 0o600))
	zerodown := func(ctx context.Context, args ...string) (int, string) {
		var out, errOut testharness.SyncBuffer
		code := (&cli.App{Stdout: &out, Stderr: &errOut, PollInterval: 200 * time.Millisecond}).Run(ctx,
			append([]string{"--address", srv.Address}, args...))
		return code, out.String() + errOut.String()
	}
	type result struct {
		code   int
		output string
	}
	waited := make(chan result, 1)
	go func() {
		code, out := zerodown(ctx, "change", "start", changeFile, "--by", "dba", "--wait")
		waited <- result{code, out}
	}()

	// Kill the worker that runs the held release's activity as soon as one runs.
	w.killActivityWorker(t, schemas.ReleaseID("board", "prod"))

	// The landing step waits for people; the client confirms.
	require.Eventually(t, func() bool {
		code, out := zerodown(ctx, "change", "status", "killed-night", "-o", "json")
		var st workflows.ChangeStatus
		if code != cli.ExitSucceeded || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		s, _ := st.Step("landing")
		return s.State == workflows.StepRunning
	}, 2*time.Minute, 250*time.Millisecond, "the landing step never waited")
	code, out := zerodown(ctx, "change", "confirm", "killed-night", "landing", "--all", "--by", "client")
	require.Equal(t, cli.ExitSucceeded, code, out)

	var res result
	select {
	case res = <-waited:
	case <-ctx.Done():
		t.Fatal("the change did not end")
	}
	require.Equal(t, cli.ExitSucceeded, res.code, res.output)
	require.Regexp(t, `board +release +finalized`, res.output)
	st, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 2}, st.ByVersion(), "%+v", st.Instances)
}
