package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/workflows"
)

// freezeEnv runs FreezeWorkflow for prod in the SDK's test environment, whose clock
// skips ahead to the next timer.
func freezeEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.FreezeWorkflow, workflow.RegisterOptions{Name: workflows.FreezeWorkflowName})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.FreezeWorkflowID("prod")})
	env.SetTestTimeout(time.Minute)
	return env
}

// sendFreeze sends an update at the current test time and returns its answer or refusal.
func sendFreeze(env *testsuite.TestWorkflowEnvironment, name string, req any, got *string, refused *error) {
	env.UpdateWorkflow(name, name+"-"+time.Now().String(), &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { *refused = err },
		OnAccept:   func() {},
		OnComplete: func(v any, err error) { *got, _ = v.(string) },
	}, req)
}

func ledger(t *testing.T, env *testsuite.TestWorkflowEnvironment) freeze.Ledger {
	t.Helper()
	v, err := env.QueryWorkflow(freeze.QueryFreezes)
	require.NoError(t, err)
	var l freeze.Ledger
	require.NoError(t, v.Get(&l))
	return l
}

// TestFreezeEndsAndIsDropped declares a freeze for two hours and an upcoming one; two
// hours later (on the workflow's clock) the first is gone, with an "expired" event, and
// the second is in force; a declaration whose until precedes its from is refused.
func TestFreezeEndsAndIsDropped(t *testing.T) {
	env := freezeEnv(t)
	start := env.Now()
	var declared, refusal string
	var refused error
	env.RegisterDelayedCallback(func() {
		sendFreeze(env, freeze.UpdateDeclare, freeze.DeclareRequest{By: "carol", From: env.Now(), Until: env.Now().Add(2 * time.Hour), Reason: "sale"}, &declared, &refused)
		sendFreeze(env, freeze.UpdateDeclare, freeze.DeclareRequest{By: "dave", From: env.Now().Add(3 * time.Hour), Until: env.Now().Add(time.Hour), Reason: "typo"}, &refusal, &refused)
		sendFreeze(env, freeze.UpdateDeclare, freeze.DeclareRequest{By: "dave", From: env.Now().Add(time.Hour), Until: env.Now().Add(5 * time.Hour), Reason: "holidays"}, &refusal, new(error))
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		l := ledger(t, env)
		require.Len(t, l.Freezes, 2)
		st := l.StateAt(env.Now(), "")
		require.True(t, st.Frozen)
		// The two freezes overlap: prod is free only when the second ends.
		require.Equal(t, start.Add(time.Minute+5*time.Hour).UTC(), st.Until)
	}, 90*time.Minute)
	env.RegisterDelayedCallback(func() {
		l := ledger(t, env)
		require.Len(t, l.Freezes, 1)
		require.Equal(t, "prod-2", l.Freezes[0].ID)
		require.Equal(t, freeze.EventExpired, l.Events[len(l.Events)-1].Kind)
		require.Equal(t, "prod-1", l.Events[len(l.Events)-1].ID)
		env.CancelWorkflow()
	}, 2*time.Hour+2*time.Minute)
	env.ExecuteWorkflow(workflows.FreezeWorkflowName, workflows.FreezeInput{Environment: "prod"})
	require.Contains(t, declared, "declared prod-1: prod frozen from")
	require.ErrorContains(t, refused, "until: ")
	require.ErrorContains(t, refused, "is not after from")
}

// TestFreezeContinuesAsNewWithItsFreezes takes five declarations, then the run's history
// passes its bound (the test environment counts no events: it is told the length): the
// run continues as new carrying every freeze and the sequence of IDs.
func TestFreezeContinuesAsNewWithItsFreezes(t *testing.T) {
	env := freezeEnv(t)
	var got string
	env.RegisterDelayedCallback(func() {
		for i := range 5 {
			sendFreeze(env, freeze.UpdateDeclare, freeze.DeclareRequest{By: "carol", From: env.Now(), Until: env.Now().Add(time.Duration(i+1) * time.Hour), Reason: "sale"}, &got, new(error))
		}
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		require.Len(t, ledger(t, env).Freezes, 5)
		env.SetCurrentHistoryLength(20)
	}, 2*time.Minute)
	env.ExecuteWorkflow(workflows.FreezeWorkflowName, workflows.FreezeInput{Environment: "prod", MaxHistory: 20})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	var next workflows.FreezeInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Ledger)
	require.Len(t, next.Ledger.Freezes, 5)
	require.Equal(t, 5, next.Ledger.Seq)
	require.Equal(t, 20, next.MaxHistory)
	require.Contains(t, got, "declared prod-5")
	require.Equal(t, "carol", next.Ledger.Freezes[4].By)
}

// TestFreezeRefusesTheWrongWorkflowID keeps a freeze workflow of prod from running
// under another ID, where no release would look for it.
func TestFreezeRefusesTheWrongWorkflowID(t *testing.T) {
	env := freezeEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "freeze/staging"})
	env.ExecuteWorkflow(workflows.FreezeWorkflowName, workflows.FreezeInput{Environment: "prod"})
	require.ErrorContains(t, env.GetWorkflowError(), `the freezes of prod live in "freeze/prod"`)
}
