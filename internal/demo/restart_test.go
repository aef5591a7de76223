package demo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/testharness"
)

// The local cloud restarts under load — gracefully, then by a crash — and comes back on
// the same command line with its fleet adopted. The world holds its sockets, so the
// load balancer's clients wait through a graceful restart instead of failing.
func TestLocalCloudRestartsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local cloud and the demo service")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := demoBuilds(ctx, t, root)
	w, err := demo.Start(ctx, demo.Options{
		Root: root, BinDir: bin, WorkDir: t.TempDir(), CloudAPI: freeAddr(t), LB: freeAddr(t),
		CloudOnly: true, Instances: 2, Rate: 50, Out: &testharness.SyncBuffer{},
	})
	defer func() { require.Empty(t, w.Stop()) }()
	require.NoError(t, err)
	gen, err := w.NewLoad()
	require.NoError(t, err)
	require.NoError(t, gen.Start(ctx))

	for range 3 {
		first := w.PID(demo.ServiceLocalCloud)
		require.NoError(t, w.Restart(ctx, demo.ServiceLocalCloud, false))
		require.NotEqual(t, first, w.PID(demo.ServiceLocalCloud), "a new daemon")
		require.False(t, demo.ProcessAlive(first))
		time.Sleep(500 * time.Millisecond)
	}
	gen.Mark("crash-start")
	// A request sent before the mark and cut by the crash is the crash's, not a
	// graceful restart's: let them finish first.
	require.NoError(t, gen.Settled(ctx, loadgen.SteadyWindow))
	require.NoError(t, w.Restart(ctx, demo.ServiceLocalCloud, true))
	serving, err := w.Serving(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v1": 2}, serving, "the new daemon adopted the fleet")

	require.NoError(t, w.Kill(demo.ServiceLocalCloud))
	require.False(t, w.Running(demo.ServiceLocalCloud))
	require.NoError(t, w.Revive(ctx, demo.ServiceLocalCloud))
	gen.Mark("crash-end")
	serving, err = w.Serving(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v1": 2}, serving)
	require.Error(t, w.Revive(ctx, demo.ServiceLocalCloud), "it runs already")
	require.Error(t, w.Kill("nothing"), "no such service")

	rep := gen.Stop()
	for _, win := range rep.Windows {
		if win.Name == loadgen.SteadyWindow {
			require.Positive(t, win.Requests)
			require.Zero(t, win.Failed, "graceful restarts: %+v %q, marks %+v", win.Failures, rep.FailureSamples, rep.Marks)
		}
	}
}

// A zombie holds no port and runs no code: not a leak, whatever kill(0) says.
func TestZombieIsNotAlive(t *testing.T) {
	require.True(t, demo.ProcessAlive(os.Getpid()))
	require.False(t, demo.ProcessAlive(0))
	cmd := exec.Command("true")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	require.Eventually(t, func() bool { return !demo.ProcessAlive(pid) }, 5*time.Second, 10*time.Millisecond,
		"exited and not reaped yet: a zombie")
	require.NoError(t, cmd.Wait())
	require.False(t, demo.ProcessAlive(pid))
}
