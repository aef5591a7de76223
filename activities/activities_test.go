package activities_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/scrape"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
)

var target = schemas.Target{Provider: schemas.ProviderMemory, Instances: 2}

func setup(t *testing.T) (*testsuite.TestActivityEnvironment, *memory.Fleet, *activities.Activities) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	f := memory.New()
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: f.Factory}, map[string]analysis.Analyzer{schemas.AnalysisScrape: scrape.New()})
	acts.HeartbeatEvery = 0
	env.RegisterActivity(acts)
	return env, f, acts
}

func nonRetryableType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return app.Type()
	}
	return ""
}

func TestLaunchRetryReturnsTheSameInstances(t *testing.T) {
	env, f, acts := setup(t)
	in := activities.LaunchInput{Target: target, Key: "release/board/prod/run1/canary", Version: "v2", Count: 2}
	first, err := env.ExecuteActivity(acts.Launch, in)
	require.NoError(t, err)
	// A worker that crashed after launching but before recording retries the same step.
	second, err := env.ExecuteActivity(acts.Launch, in)
	require.NoError(t, err)
	var a, b []fleet.Instance
	require.NoError(t, first.Get(&a))
	require.NoError(t, second.Get(&b))
	require.Len(t, a, 2)
	require.Equal(t, a, b)
	require.Equal(t, 2, f.Launches())
}

func TestUnknownProviderIsNotRetried(t *testing.T) {
	env, _, acts := setup(t)
	_, err := env.ExecuteActivity(acts.Describe, activities.TargetInput{Target: schemas.Target{Provider: "gcp"}})
	require.Equal(t, activities.ErrTypeInvalidConfig, nonRetryableType(err))
	require.ErrorContains(t, err, `provider "gcp" is not served by this worker`)
}

func TestUnhealthyInstanceIsNotRetried(t *testing.T) {
	env, f, acts := setup(t)
	f.SetUnhealthy("v3", true)
	out, err := env.ExecuteActivity(acts.Launch, activities.LaunchInput{Target: target, Key: "k", Version: "v3", Count: 1})
	require.NoError(t, err)
	var ins []fleet.Instance
	require.NoError(t, out.Get(&ins))
	_, err = env.ExecuteActivity(acts.WaitHealthy, activities.IDsInput{Target: target, IDs: []string{ins[0].ID}})
	require.Equal(t, activities.ErrTypeUnhealthy, nonRetryableType(err))
}

func TestTerminateTwiceIsFine(t *testing.T) {
	env, f, acts := setup(t)
	ins := f.Seed("v1", 2)
	ids := []string{ins[0].ID}
	_, err := env.ExecuteActivity(acts.Terminate, activities.IDsInput{Target: target, IDs: ids})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(acts.Terminate, activities.IDsInput{Target: target, IDs: ids})
	require.NoError(t, err)
	require.Equal(t, ids, f.Terminated())
}

func TestWaitDrainedTimeoutIsAnAnswer(t *testing.T) {
	env, f, acts := setup(t)
	ins := f.Seed("v1", 1)
	f.SetConnections(ins[0].ID, 3)
	out, err := env.ExecuteActivity(acts.WaitDrained, activities.DrainInput{Target: target, IDs: []string{ins[0].ID}, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	var res activities.DrainResult
	require.NoError(t, out.Get(&res))
	require.False(t, res.Drained)
	require.Equal(t, 3, res.Open)
}

func TestWaitDrainedResumesItsClockAfterACrash(t *testing.T) {
	env, f, acts := setup(t)
	ins := f.Seed("v1", 1)
	f.SetConnections(ins[0].ID, 1)
	// The previous attempt heartbeated after waiting 4m59.9s of a 5m drain timeout:
	// the retry must not wait a fresh five minutes.
	env.SetHeartbeatDetails(5*time.Minute - 100*time.Millisecond)
	start := time.Now()
	out, err := env.ExecuteActivity(acts.WaitDrained, activities.DrainInput{Target: target, IDs: []string{ins[0].ID}, Timeout: 5 * time.Minute})
	require.NoError(t, err)
	var res activities.DrainResult
	require.NoError(t, out.Get(&res))
	require.False(t, res.Drained)
	require.Less(t, time.Since(start), 10*time.Second)
	require.GreaterOrEqual(t, res.Waited, 5*time.Minute-100*time.Millisecond)
}

func TestWaitDrainedReturnsWhenConnectionsClose(t *testing.T) {
	env, f, acts := setup(t)
	ins := f.Seed("v1", 1)
	f.SetConnections(ins[0].ID, 2)
	go func() {
		time.Sleep(50 * time.Millisecond)
		f.SetConnections(ins[0].ID, 0)
	}()
	out, err := env.ExecuteActivity(acts.WaitDrained, activities.DrainInput{Target: target, IDs: []string{ins[0].ID}, Timeout: time.Minute})
	require.NoError(t, err)
	var res activities.DrainResult
	require.NoError(t, out.Get(&res))
	require.True(t, res.Drained)
}

func TestMigrateSessionsAsksEachInstance(t *testing.T) {
	env, f, acts := setup(t)
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.Method+" "+r.URL.Path)
	}))
	defer srv.Close()
	f.SetAddress(func(string) string { return strings.TrimPrefix(srv.URL, "http://") })
	ins := f.Seed("v1", 2)
	out, err := env.ExecuteActivity(acts.MigrateSessions, activities.MigrateInput{Target: target, IDs: []string{ins[0].ID, ins[1].ID, "gone"}, Path: "/admin/migrate"})
	require.NoError(t, err)
	var n int
	require.NoError(t, out.Get(&n))
	require.Equal(t, 2, n)
	require.Equal(t, []string{"POST /admin/migrate", "POST /admin/migrate"}, hits)
}

func TestBakeNoneUsesTheVersion(t *testing.T) {
	env, _, acts := setup(t)
	out, err := env.ExecuteActivity(acts.Bake, activities.BakeInput{Spec: schemas.Spec{Bake: schemas.Bake{Method: schemas.BakeNone}}, Version: "v2"})
	require.NoError(t, err)
	var image string
	require.NoError(t, out.Get(&image))
	require.Equal(t, "v2", image)
}

func TestWaitHealthyGivesUpAfterTheHealthTimeout(t *testing.T) {
	env, f, acts := setup(t)
	f.SetSlow("v2", true)
	out, err := env.ExecuteActivity(acts.Launch, activities.LaunchInput{Target: target, Key: "k", Version: "v2", Count: 1})
	require.NoError(t, err)
	var ins []fleet.Instance
	require.NoError(t, out.Get(&ins))
	slow := target
	slow.HealthTimeout = schemas.Duration(50 * time.Millisecond)
	_, err = env.ExecuteActivity(acts.WaitHealthy, activities.IDsInput{Target: slow, IDs: []string{ins[0].ID}})
	require.Equal(t, activities.ErrTypeUnhealthy, nonRetryableType(err))
	require.ErrorContains(t, err, "not healthy after 50ms (target.healthTimeout)")
}
