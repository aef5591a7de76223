//go:build unix

package workerapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// workerProcess is one zerodown-worker process started by the test.
type workerProcess struct {
	cmd    *exec.Cmd
	output *testharness.SyncBuffer
	done   chan error
}

func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zerodown-worker")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/zerodown/zerodown/worker").CombinedOutput()
	require.NoError(t, err, "go build zerodown-worker:\n%s", out)
	return bin
}

func startWorkerProcess(t *testing.T, bin string, args ...string) *workerProcess {
	t.Helper()
	w := &workerProcess{cmd: exec.Command(bin, args...), output: &testharness.SyncBuffer{}, done: make(chan error, 1)}
	w.cmd.Stdout, w.cmd.Stderr = w.output, w.output
	w.cmd.Env = append(os.Environ(), "TEMPORAL_CONFIG_FILE="+filepath.Join(t.TempDir(), "none.toml"))
	require.NoError(t, w.cmd.Start())
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(45 * time.Second):
			_ = w.cmd.Process.Kill()
			t.Errorf("worker %d did not stop on SIGTERM", w.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("worker %d output:\n%s", w.cmd.Process.Pid, w.output.String())
		}
	})
	return w
}

// Two worker processes serve one task queue; the one running the release's activity is
// killed with SIGKILL mid-release. The other carries the release to its end: it
// succeeds, the fleet runs the new version only, and no instance is left behind.
func TestTwoWorkersSurviveTheKillOfOne(t *testing.T) {
	w := startTwoWorkers(t, 3)
	srv, cloud, fakeBin, f, ctx := w.srv, w.cloud, w.fakeBin, w.fleet, w.ctx

	spec := fmt.Sprintf(`service: board
environment: prod
target:
  provider: local
  instances: 3
  healthTimeout: 1m
  local: { endpoint: %q, command: %s, healthPath: /healthz }
bake: { method: none }
canary: { instances: 1, soak: 2s, analysis: { interval: 1s, provider: health, failureLimit: 3 } }
promote: { strategy: rolling, batch: 1, maxUnavailable: 0 }
drain: { timeout: 10s }
rollback: { automatic: true }
`, cloud.API, mustJSON(t, localcloudtest.FakeCommand(fakeBin)))
	specFile := filepath.Join(t.TempDir(), "board.yaml")
	require.NoError(t, os.WriteFile(specFile, []byte(spec), 0o600))
	type result struct {
		code   int
		stdout string
	}
	waited := make(chan result, 1)
	go func() {
		var out, errOut testharness.SyncBuffer
		code := (&cli.App{Stdout: &out, Stderr: &errOut, PollInterval: 200 * time.Millisecond}).Run(ctx,
			[]string{"--address", srv.Address, "start", "-f", specFile, "--version", "v2", "--by", "ci", "--wait"})
		waited <- result{code, out.String() + errOut.String()}
	}()

	// Kill the worker that runs the release's activity as soon as one is running.
	w.killActivityWorker(t, schemas.ReleaseID("board", "prod"))

	var res result
	select {
	case res = <-waited:
	case <-ctx.Done():
		t.Fatal("the release did not end")
	}
	require.Equal(t, cli.ExitSucceeded, res.code, res.stdout)
	require.Contains(t, res.stdout, "succeeded: board v2 to prod")

	st, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 3}, st.ByVersion(), "the fleet runs the new version only: %+v", st.Instances)
	for _, inst := range st.Instances {
		require.True(t, inst.Healthy && inst.Attached, "%+v", inst)
	}
	require.Zero(t, st.Weights["v1"], "no traffic share left for the old version")
	// Nothing leaked: exactly the fleet's instances run as processes.
	alive := 0
	for _, pid := range localcloudtest.RecordedPIDs(t, cloud.StateDir) {
		if !localcloudtest.Gone(pid) {
			alive++
		}
	}
	require.Equal(t, 3, alive, "instance processes still running")
}

// twoWorkers is a dev server, a local cloud whose fleet serves v1, and two
// zerodown-worker processes polling the one task queue.
type twoWorkers struct {
	srv     *testharness.Server
	cloud   *localcloudtest.Daemon
	fakeBin string
	fleet   fleet.Fleet
	ctx     context.Context
	workers map[int]*workerProcess
}

func startTwoWorkers(t *testing.T, instances int) *twoWorkers {
	t.Helper()
	w := &twoWorkers{srv: testharness.StartServer(t), workers: map[int]*workerProcess{}} // skips under -short
	var err error
	w.fakeBin, err = localcloudtest.BuildFakeInstance(t.TempDir())
	require.NoError(t, err)
	w.cloud = localcloudtest.Start(t, localcloudtest.TestConfig(t.TempDir()))
	bin := buildWorker(t)
	target := schemas.Target{Provider: schemas.ProviderLocal, Instances: instances, HealthTimeout: schemas.Duration(time.Minute),
		Local: &schemas.LocalSpec{Endpoint: w.cloud.API, Command: localcloudtest.FakeCommand(w.fakeBin), HealthPath: "/healthz"}}
	w.fleet, err = local.Factory(target)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	w.ctx = ctx
	seedFleet(t, ctx, w.fleet, "v1", instances)
	for range 2 {
		p := startWorkerProcess(t, bin, "--address", w.srv.Address, "--providers", "local", "--local-endpoint", w.cloud.API,
			"--metrics", "", "--stop-timeout", "5s", "--log-level", "warn")
		w.workers[p.cmd.Process.Pid] = p
	}
	// Both poll the activity queue before anything starts.
	require.Eventually(t, func() bool {
		resp, err := w.srv.Client.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(pollerPIDs(resp.GetPollers())) == 2
	}, time.Minute, 100*time.Millisecond, "two workers polling")
	return w
}

// killActivityWorker SIGKILLs the worker that runs an activity of workflow id as soon as
// one runs, and waits for it to die.
func (w *twoWorkers) killActivityWorker(t *testing.T, id string) {
	t.Helper()
	var killed int
	require.Eventually(t, func() bool {
		desc, err := w.srv.Client.DescribeWorkflowExecution(w.ctx, id, "")
		if err != nil {
			return false
		}
		for _, act := range desc.GetPendingActivities() {
			if act.GetState() != enumspb.PENDING_ACTIVITY_STATE_STARTED {
				continue
			}
			if p, ok := w.workers[identityPID(act.GetLastWorkerIdentity())]; ok {
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
				killed = p.cmd.Process.Pid
				t.Logf("killed worker %d while it ran %s (attempt %d)", killed, act.GetActivityType().GetName(), act.GetAttempt())
				return true
			}
		}
		return false
	}, 2*time.Minute, 20*time.Millisecond, "no activity of %s was seen running", id)
	select {
	case err := <-w.workers[killed].done:
		require.ErrorContains(t, err, "killed")
		w.workers[killed].done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the killed worker did not die")
	}
}

// seedFleet brings up n healthy, attached instances of version, as a previous release would have.
func seedFleet(t *testing.T, ctx context.Context, f fleet.Fleet, version string, n int) {
	t.Helper()
	insts, err := f.Launch(ctx, fleet.LaunchRequest{Key: "seed/" + version, Version: version, Count: n})
	require.NoError(t, err)
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	require.NoError(t, f.WaitHealthy(ctx, ids))
	require.NoError(t, f.Attach(ctx, ids))
}

// identityPID reads the process ID out of the SDK's default worker identity "PID@HOST@".
func identityPID(identity string) int {
	pid, _ := strconv.Atoi(strings.SplitN(identity, "@", 2)[0])
	return pid
}

func pollerPIDs[P interface{ GetIdentity() string }](pollers []P) map[int]bool {
	pids := map[int]bool{}
	for _, p := range pollers {
		pids[identityPID(p.GetIdentity())] = true
	}
	return pids
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
