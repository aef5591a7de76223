//go:build unix

package activities_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/localcloud/localcloudtest"
	"github.com/zerodown/zerodown/schemas"
)

var fakeBin string

func TestMain(m *testing.M) { os.Exit(localcloudtest.MainWithFakeInstance(m, &fakeBin)) }

// TestEveryActivitySurvivesARetry runs each activity that changes the fleet twice in a
// row, against the real local cloud: the second run is Temporal's retry after a worker
// crashed between doing the work and recording it. The fleet must end as after one run:
// no second instance, no error for work already done.
func TestEveryActivitySurvivesARetry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local cloud and real instance processes")
	}
	d := localcloudtest.Start(t, localcloudtest.TestConfig(t.TempDir()))
	target := schemas.Target{Provider: schemas.ProviderLocal, Instances: 2, HealthTimeout: schemas.Duration(30 * time.Second),
		Local: &schemas.LocalSpec{Endpoint: d.API, Command: localcloudtest.FakeCommand(fakeBin), HealthPath: "/healthz"}}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	acts := activities.New(fleet.Registry{schemas.ProviderLocal: local.Factory}, nil)
	acts.HeartbeatEvery = 0
	env.RegisterActivity(acts)
	f, err := local.Factory(target)
	require.NoError(t, err)
	state := func() fleet.State {
		st, err := f.Describe(context.Background())
		require.NoError(t, err)
		return st
	}
	twice := func(name string, fn any, in any) {
		t.Helper()
		for attempt := 1; attempt <= 2; attempt++ {
			_, err := env.ExecuteActivity(fn, in)
			require.NoError(t, err, "%s, attempt %d", name, attempt)
		}
	}

	launch := activities.LaunchInput{Target: target, Key: "release/board/prod/run1/canary", Version: "v2", Count: 2}
	twice("Launch", acts.Launch, launch)
	st := state()
	require.Len(t, st.Instances, 2, "a retried launch starts nothing more")
	ids := []string{st.Instances[0].ID, st.Instances[1].ID}
	in := activities.IDsInput{Target: target, IDs: ids}

	twice("WaitHealthy", acts.WaitHealthy, in)
	twice("Attach", acts.Attach, in)
	for _, inst := range state().Instances {
		require.True(t, inst.Attached && inst.Healthy, "%+v", inst)
	}
	twice("SetWeights", acts.SetWeights, activities.WeightsInput{Target: target, Weights: map[string]int{"v2": 100}})
	require.Equal(t, map[string]int{"v2": 100}, state().Weights)

	twice("MigrateSessions", acts.MigrateSessions, activities.MigrateInput{Target: target, IDs: ids, Path: "/healthz"})
	twice("RunHook", acts.RunHook, activities.HookInput{Target: target, Hook: schemas.Hook{HTTP: &schemas.HTTPHook{Path: "/healthz", Expect: 200}}, IDs: ids})
	twice("Check", acts.Check, activities.CheckInput{Target: target, Analysis: schemas.Analysis{Provider: schemas.AnalysisHealth}, Version: "v2", CanaryIDs: ids})

	twice("Detach", acts.Detach, in)
	for _, inst := range state().Instances {
		require.False(t, inst.Attached, "%+v", inst)
	}
	twice("WaitDrained", acts.WaitDrained, activities.DrainInput{Target: target, IDs: ids, Timeout: 10 * time.Second})
	twice("Terminate", acts.Terminate, in)
	require.Empty(t, state().Instances)
	// A launch retried after its instances were terminated does not bring them back.
	_, err = env.ExecuteActivity(acts.Launch, launch)
	require.NoError(t, err)
	require.Empty(t, state().Instances)
}
