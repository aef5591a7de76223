//go:build unix

package local_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
	"github.com/zerodown/zerodown/schemas"
)

var fakeBin string

func TestMain(m *testing.M) { os.Exit(localcloudtest.MainWithFakeInstance(m, &fakeBin)) }

// setup starts a daemon and the fleet that drives it.
func setup(t *testing.T, env map[string]string) (*localcloudtest.Daemon, *local.Fleet) {
	d := localcloudtest.Start(t, localcloudtest.TestConfig(t.TempDir()))
	return d, local.New(d.API, schemas.LocalSpec{Command: localcloudtest.FakeCommand(fakeBin), Env: env, HealthPath: "/healthz"})
}

// progress records what a wait reports, as an activity's heartbeat would.
type progress struct {
	mu      sync.Mutex
	details []any
}

func (p *progress) ctx(ctx context.Context) context.Context {
	return fleet.WithProgress(ctx, func(d any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.details = append(p.details, d)
	})
}

func (p *progress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.details)
}

func TestFactoryRefusesIncompleteTargets(t *testing.T) {
	for name, target := range map[string]schemas.Target{
		"no local section": {Provider: schemas.ProviderLocal},
		"empty command":    {Provider: schemas.ProviderLocal, Local: &schemas.LocalSpec{}},
		"bad endpoint":     {Provider: schemas.ProviderLocal, Local: &schemas.LocalSpec{Command: []string{"x"}, Endpoint: "127.0.0.1:7070"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := local.Factory(target)
			require.ErrorIs(t, err, fleet.ErrInvalidConfig)
		})
	}
	f, err := local.Factory(schemas.Target{Provider: schemas.ProviderLocal, Local: &schemas.LocalSpec{Command: []string{"x"}}})
	require.NoError(t, err)
	require.NotNil(t, f)
}

func TestAReleaseCycle(t *testing.T) {
	d, f := setup(t, nil)
	ctx := context.Background()

	old, err := f.Launch(ctx, fleet.LaunchRequest{Key: "r1/baseline", Version: "v1", Count: 2})
	require.NoError(t, err)
	require.Len(t, old, 2)
	again, err := f.Launch(ctx, fleet.LaunchRequest{Key: "r1/baseline", Version: "v1", Count: 2})
	require.NoError(t, err)
	require.Equal(t, old, again, "a retried launch returns the same instances")

	var p progress
	require.NoError(t, f.WaitHealthy(p.ctx(ctx), idsOf(old)))
	require.Positive(t, p.count(), "waits report progress so activities heartbeat")
	require.NoError(t, f.Attach(ctx, idsOf(old)))

	// A long request lands on the old version before the canary arrives.
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get(d.LB + "/slow?ms=1500")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("slow request: %s", resp.Status)
			}
		}
		slow <- err
	}()
	require.Eventually(t, func() bool {
		st, err := f.Describe(ctx)
		require.NoError(t, err)
		n := 0
		for _, in := range st.Instances {
			n += in.Connections
		}
		return n == 1
	}, 5*time.Second, 10*time.Millisecond)

	canary, err := f.Launch(ctx, fleet.LaunchRequest{Key: "r1/canary", Version: "v2", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctx, idsOf(canary)))
	require.NoError(t, f.Attach(ctx, idsOf(canary)))
	require.NoError(t, f.SetWeights(ctx, map[string]int{"v1": 90, "v2": 10}))

	st, err := f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v1": 2, "v2": 1}, st.ByVersion())
	require.Equal(t, map[string]int{"v1": 90, "v2": 10}, st.Weights)
	for _, in := range st.Instances {
		require.True(t, in.Healthy && in.Attached, "%+v", in)
		require.NotEmpty(t, in.Address)
	}

	// Promote: the old version leaves; its slow request finishes first.
	require.NoError(t, f.SetWeights(ctx, nil))
	require.NoError(t, f.Detach(ctx, idsOf(old)))
	require.NoError(t, f.WaitDrained(ctx, idsOf(old)))
	select {
	case err := <-slow:
		require.NoError(t, err)
	case <-time.After(time.Second): // the client may read the answer just after the LB lets go
		t.Fatal("WaitDrained returned while a request was still in flight")
	}

	require.NoError(t, f.Terminate(ctx, idsOf(old)))
	require.NoError(t, f.Terminate(ctx, idsOf(old)), "terminate is idempotent")
	st, err = f.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 1}, st.ByVersion())
	for _, in := range old {
		require.True(t, localcloudtest.Gone(pidOf(t, d, in.ID)))
	}
}

func TestWaitHealthyFailsFastWhenAnInstanceCrashesOnStart(t *testing.T) {
	_, f := setup(t, map[string]string{"FAKE_MODE": "crash"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: "k", Version: "v2", Count: 1})
	require.NoError(t, err)

	began := time.Now()
	err = f.WaitHealthy(ctx, idsOf(ins))
	require.ErrorIs(t, err, local.ErrInstanceExited)
	require.Less(t, time.Since(began), 5*time.Second)
	require.Contains(t, err.Error(), ins[0].ID)
	require.Contains(t, err.Error(), "exited with code 3")
	require.Contains(t, err.Error(), "boom: cannot open the database", "the end of the instance's log explains the crash")
}

func TestWaitHealthyEndsWithItsContext(t *testing.T) {
	_, f := setup(t, map[string]string{"FAKE_MODE": "unhealthy"})
	ins, err := f.Launch(context.Background(), fleet.LaunchRequest{Key: "k", Version: "v1", Count: 1})
	require.NoError(t, err)
	var p progress
	ctx, cancel := context.WithTimeout(p.ctx(context.Background()), 700*time.Millisecond)
	defer cancel()
	err = f.WaitHealthy(ctx, idsOf(ins))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), ins[0].ID)
	require.GreaterOrEqual(t, p.count(), 2)
}

func TestErrorsSayWhatWentWrong(t *testing.T) {
	_, f := setup(t, nil)
	ctx := context.Background()
	require.ErrorIs(t, f.Attach(ctx, []string{"i-unknown"}), fleet.ErrNotFound)
	require.ErrorIs(t, f.WaitHealthy(ctx, []string{"i-unknown"}), fleet.ErrNotFound)
	require.NoError(t, f.WaitDrained(ctx, []string{"i-unknown"}), "an instance that is gone holds no connections")
	require.NoError(t, f.Terminate(ctx, []string{"i-unknown"}))

	_, err := f.Launch(ctx, fleet.LaunchRequest{Key: "k", Version: "v1", Count: 1})
	require.NoError(t, err)
	_, err = f.Launch(ctx, fleet.LaunchRequest{Key: "k", Version: "v2", Count: 1})
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "a reused key for another launch cannot succeed on retry")

	down := local.New("http://127.0.0.1:1", schemas.LocalSpec{Command: []string{"x"}})
	_, err = down.Describe(ctx)
	require.ErrorContains(t, err, "unreachable")
}

func idsOf(ins []fleet.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

func pidOf(t *testing.T, d *localcloudtest.Daemon, id string) int {
	t.Helper()
	var st struct {
		Instances []struct {
			ID  string `json:"id"`
			PID int    `json:"pid"`
		} `json:"instances"`
	}
	_, err := d.Do(http.MethodGet, "/v1/state?all=1", nil, &st)
	require.NoError(t, err)
	for _, in := range st.Instances {
		if in.ID == id {
			return in.PID
		}
	}
	t.Fatalf("no instance %s", id)
	return 0
}

// State with all keeps terminated instances and their launch keys: what a check that no
// step launched twice reads. Shutdown with keepInstances stops the daemon alone.
func TestStateOfEveryInstanceAndAShutdownThatKeepsThem(t *testing.T) {
	ctx := context.Background()
	d, f := setup(t, nil)
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: "release/x/canary", Version: "v1", Count: 2})
	require.NoError(t, err)
	require.NoError(t, f.Terminate(ctx, []string{ins[0].ID}))

	live, err := f.State(ctx, false)
	require.NoError(t, err)
	require.Len(t, live.Instances, 1)
	all, err := f.State(ctx, true)
	require.NoError(t, err)
	require.Len(t, all.Instances, 2)
	for _, in := range all.Instances {
		require.Equal(t, "release/x/canary", in.LaunchKey)
	}

	kept := live.Instances[0].PID
	require.NoError(t, f.Shutdown(ctx, api.ShutdownRequest{KeepInstances: true}))
	<-d.Done()
	require.False(t, localcloudtest.Gone(kept), "left for the next daemon")
	require.NoError(t, syscall.Kill(-kept, syscall.SIGKILL))
}
