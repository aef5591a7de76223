package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// steppedSpec soaks 30 minutes in three steps of 10 minutes: 5 %, 25 %, 50 %.
func steppedSpec() schemas.Spec {
	s := spec()
	s.Canary.Soak = schemas.Duration(30 * time.Minute)
	s.Canary.Traffic = []int{5, 25, 50}
	return s
}

func share(canary int) map[string]int { return map[string]int{"v1": 100 - canary, "v2": canary} }

// balancerShares asserts what the balancer was told, in order, and that it shares by
// instance count again at the end.
func balancerShares(t *testing.T, h *harness, want ...map[string]int) {
	t.Helper()
	require.Equal(t, append(want, map[string]int{}), h.fleet.WeightsHistory())
	st, err := h.fleet.Describe(context.Background())
	require.NoError(t, err)
	require.Empty(t, st.Weights, "the balancer shares by instance count again")
}

func trafficEvents(st workflows.Status) []workflows.Event {
	var out []workflows.Event
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindTraffic {
			out = append(out, e)
		}
	}
	return out
}

func TestTrafficStepsAdvanceThenPromote(t *testing.T) {
	// With an interval that does not divide the step, the step still changes on time.
	for _, every := range []time.Duration{time.Minute, 4 * time.Minute} {
		t.Run(every.String(), func(t *testing.T) { advanceThenPromote(t, every) })
	}
}

func advanceThenPromote(t *testing.T, every time.Duration) {
	h := newHarness(t)
	s := steppedSpec()
	s.Canary.Analysis.Interval = schemas.Duration(every)
	st, err := h.run(s)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	balancerShares(t, h, share(5), share(25), share(50))
	h.fleetIs("v2", 4)

	// Each step soaks its third of the soak and is checked every interval.
	ev := trafficEvents(st)
	require.Len(t, ev, 3)
	require.Contains(t, ev[1].Message, "25% of requests (step 2 of 3)")
	require.Equal(t, 10*time.Minute, ev[1].Time.Sub(ev[0].Time).Round(time.Second))
	require.Equal(t, 10*time.Minute, ev[2].Time.Sub(ev[1].Time).Round(time.Second))
	require.Zero(t, st.CanaryWeight, "no weight once the promote began")
}

// A failed check at any step takes the canary to 0 % at once, then rolls back.
func TestTrafficStepFailureTakesTheCanaryToZero(t *testing.T) {
	for step, at := range []time.Duration{3 * time.Minute, 13 * time.Minute, 23 * time.Minute} {
		t.Run(time.Duration(at).String(), func(t *testing.T) {
			h := newHarness(t)
			h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", true) }, at)
			st, err := h.run(steppedSpec())
			require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
			want := []map[string]int{share(5), share(25), share(50)}[:step+1]
			balancerShares(t, h, append(want, share(0))...)
			h.fleetIs("v1", 4)
			ev := trafficEvents(st)
			require.Contains(t, ev[len(ev)-1].Message, "0% of requests")
		})
	}
}

func TestTrafficStepsAbortAndPromoteMidStep(t *testing.T) {
	t.Run("abort", func(t *testing.T) {
		h := newHarness(t)
		h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "alice", Reason: "latency"}, 15*time.Minute)
		st, err := h.run(steppedSpec())
		require.Equal(t, workflows.ErrTypeAborted, errType(err))
		require.Equal(t, workflows.PhaseRolledBack, st.Phase)
		balancerShares(t, h, share(5), share(25), share(0))
		h.fleetIs("v1", 4)
	})
	t.Run("promote", func(t *testing.T) {
		h := newHarness(t)
		h.update(workflows.UpdatePromote, workflows.ActorRequest{By: "alice"}, 15*time.Minute)
		st, err := h.run(steppedSpec())
		require.NoError(t, err)
		require.True(t, hasEvent(st, "soak-skipped", "alice"))
		balancerShares(t, h, share(5), share(25))
		h.fleetIs("v2", 4)
	})
	t.Run("halted without automatic rollback", func(t *testing.T) {
		h := newHarness(t)
		s := steppedSpec()
		s.Rollback.Automatic = false
		h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", true) }, 13*time.Minute)
		var halted []map[string]int
		h.env.RegisterDelayedCallback(func() { halted = h.fleet.WeightsHistory() }, 2*time.Hour)
		h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "alice"}, 3*time.Hour)
		_, err := h.run(s)
		require.Equal(t, workflows.ErrTypeAborted, errType(err))
		require.Equal(t, []map[string]int{share(5), share(25), share(0)}, halted, "while halted, the canary takes nothing")
		balancerShares(t, h, share(5), share(25), share(0))
	})
}

// A release that continues as new mid-step keeps its step: no weight is set twice.
func TestTrafficStepsSurviveContinueAsNew(t *testing.T) {
	h := newHarness(t)
	s := steppedSpec()
	in := workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci", ChecksPerRun: 15}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, in)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var next workflows.ReleaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, 25, next.State.Status.CanaryWeight)

	h2 := &harness{t: t, env: newEnv(), fleet: h.fleet}
	h2.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h2.env.RegisterActivity(activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil))
	next.ChecksPerRun = 1000
	h2.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, next)
	require.NoError(t, h2.env.GetWorkflowError())
	balancerShares(t, h, share(5), share(25), share(50))
	h.fleetIs("v2", 4)
}
