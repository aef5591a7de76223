package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// The tests run the real activities against an in-memory fleet, with time skipping:
// a one-hour soak takes milliseconds.

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	fleet *memory.Fleet
}

func newHarness(t *testing.T) *harness {
	env := newEnv()
	f := memory.New()
	f.Seed("v1", 4)
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: f.Factory}, nil)
	env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	env.RegisterActivity(acts)
	return &harness{t: t, env: env, fleet: f}
}

// newEnv returns a quiet test environment: activity errors are expected on the rollback
// paths, and the assertions say what went wrong.
func newEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))))
	return s.NewTestWorkflowEnvironment()
}

func spec() schemas.Spec {
	return schemas.Spec{
		Service:     "board",
		Environment: "prod",
		Target:      schemas.Target{Provider: schemas.ProviderMemory, Instances: 4},
		Bake:        schemas.Bake{Method: schemas.BakeNone},
		Canary: schemas.Canary{
			Instances: 1,
			Soak:      schemas.Duration(time.Hour),
			Analysis:  schemas.Analysis{Interval: schemas.Duration(time.Minute), Provider: schemas.AnalysisHealth, FailureLimit: 2},
		},
		Promote:  schemas.Promote{Strategy: schemas.StrategyRolling, Batch: "2"},
		Drain:    schemas.Drain{Timeout: schemas.Duration(5 * time.Minute)},
		Rollback: schemas.Rollback{Automatic: true},
	}
}

func (h *harness) run(s schemas.Spec) (workflows.Status, error) {
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci"})
	require.True(h.t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	var st workflows.Status
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&st))
		return st, nil
	}
	var app *temporal.ApplicationError
	require.True(h.t, errors.As(err, &app), "want an application error, got %v", err)
	require.NoError(h.t, app.Details(&st))
	return st, err
}

// fleetIs asserts the fleet holds exactly n healthy attached instances of version and nothing else.
func (h *harness) fleetIs(version string, n int) {
	st, err := h.fleet.Describe(context.Background())
	require.NoError(h.t, err)
	require.Len(h.t, st.Instances, n, "fleet: %+v", st.Instances)
	for _, in := range st.Instances {
		require.Equal(h.t, version, in.Version, "instance %s", in.ID)
		require.True(h.t, in.Attached && in.Healthy, "instance %s should serve: %+v", in.ID, in)
	}
}

func (h *harness) update(name string, arg any, delay time.Duration) *updateResult {
	res := &updateResult{}
	h.env.RegisterDelayedCallback(func() { h.env.UpdateWorkflow(name, "", res.callbacks(), arg) }, delay)
	return res
}

type updateResult struct {
	rejected error
	result   string
	err      error
	done     bool
}

func (u *updateResult) callbacks() *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { u.rejected, u.done = err, true },
		OnComplete: func(v any, err error) {
			u.done, u.err = true, err
			if s, ok := v.(string); ok {
				u.result = s
			}
		},
	}
}

func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

func phases(st workflows.Status) []workflows.Phase {
	var out []workflows.Phase
	for _, p := range st.Phases {
		out = append(out, p.Phase)
	}
	return out
}

func hasEvent(st workflows.Status, kind timeline.EventKind, by string) bool {
	for _, e := range st.Timeline {
		if e.Kind == kind && (by == "" || e.By == by) {
			return true
		}
	}
	return false
}

func TestRollingReleaseSucceeds(t *testing.T) {
	h := newHarness(t)
	var mid workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, 30*time.Minute+time.Second)

	st, err := h.run(spec())
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, []workflows.Phase{workflows.PhasePlanning, workflows.PhaseBaking, workflows.PhaseCanary,
		workflows.PhaseSoaking, workflows.PhasePromoting, workflows.PhaseDraining, workflows.PhaseSucceeded}, phases(st))
	require.Equal(t, "v1", st.PreviousVersion)
	h.fleetIs("v2", 4)
	require.Equal(t, 8, h.fleet.Launches(), "4 seeded + 4 new, none twice")
	require.Len(t, h.fleet.Terminated(), 4)
	require.Equal(t, 2, st.Batches)
	require.Equal(t, map[string]int{"v2": 100}, st.Traffic)
	require.True(t, hasEvent(st, "auto-promote", ""), "every check passed, no approval needed")

	// Mid-soak the status shows the canary taking a fifth of the traffic and the time left.
	require.Equal(t, workflows.PhaseSoaking, mid.Phase)
	require.Equal(t, map[string]int{"v1": 80, "v2": 20}, mid.Traffic)
	require.InDelta(t, 30*time.Minute, mid.SoakRemaining, float64(time.Minute))
	require.NotEmpty(t, mid.Checks)
	require.Equal(t, workflows.VerdictPass, mid.Checks[len(mid.Checks)-1].Verdict)
}

func TestBlueGreenReleaseSucceeds(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Promote = schemas.Promote{Strategy: schemas.StrategyBlueGreen, KeepOld: schemas.Duration(10 * time.Minute)}
	var during workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&during))
	}, time.Hour+5*time.Minute)

	st, err := h.run(s)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	h.fleetIs("v2", 4)
	require.True(t, hasEvent(st, "flip", ""))
	// While the old fleet is kept, all traffic is on green and blue is still there.
	require.Equal(t, workflows.PhasePromoting, during.Phase)
	require.Equal(t, map[string]int{"v2": 100}, during.Traffic)
	require.Len(t, during.Fleet.Instances, 8)
}

func TestAbortDuringCanaryRollsBack(t *testing.T) {
	h := newHarness(t)
	h.fleet.SetSlow("v2", true)
	res := &updateResult{}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "WaitHealthy" {
			h.env.UpdateWorkflow(workflows.UpdateAbort, "", res.callbacks(), workflows.AbortRequest{By: "alice", Reason: "wrong build"})
		}
	})
	st, err := h.run(spec())
	require.Error(t, err)
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	require.True(t, res.done)
	require.NoError(t, res.rejected)
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, "alice", st.AbortedBy)
	require.Contains(t, st.Error, "aborted by alice: wrong build")
	h.fleetIs("v1", 4)
}

func TestAbortDuringSoakRollsBack(t *testing.T) {
	h := newHarness(t)
	res := h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "bob"}, 20*time.Minute)
	st, err := h.run(spec())
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	require.NoError(t, res.rejected)
	require.Equal(t, "aborted by bob; rolling back", res.result)
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.True(t, hasEvent(st, "aborted", "bob"))
	h.fleetIs("v1", 4)
	require.Equal(t, 5, h.fleet.Launches(), "only the canary was launched")
}

func TestAbortMidBatchRollsBack(t *testing.T) {
	h := newHarness(t)
	h.fleet.SetSlowKey("/batch-2")
	waits := 0
	res := &updateResult{}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "WaitHealthy" {
			waits++
			if waits == 3 { // canary, batch 1, batch 2
				h.env.UpdateWorkflow(workflows.UpdateAbort, "", res.callbacks(), workflows.AbortRequest{By: "carol", Reason: "latency"})
			}
		}
	})
	st, err := h.run(spec())
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, 2, st.Batch, "aborted in the second batch")
	// Batch 1 had detached two old instances: they serve again, nothing is relaunched.
	h.fleetIs("v1", 4)
	require.Equal(t, 4+1+2+1, h.fleet.Launches())
	require.False(t, hasEvent(st, "relaunched", ""))
}

func approvalSpec(onTimeout string) schemas.Spec {
	s := spec()
	s.Canary.Approval = schemas.Approval{Required: true, Approvers: []string{"alice", "bob"}, Timeout: schemas.Duration(24 * time.Hour), OnTimeout: onTimeout}
	return s
}

func TestApprovalApproved(t *testing.T) {
	h := newHarness(t)
	early := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 10*time.Minute)
	ok := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice", Comment: "graphs look fine"}, 3*time.Hour)
	st, err := h.run(approvalSpec(schemas.OnTimeoutAbort))
	require.NoError(t, err)
	require.ErrorContains(t, early.rejected, "no approval is pending (phase Soaking)")
	require.NoError(t, ok.rejected)
	require.Equal(t, "approved by alice", ok.result)
	require.Contains(t, phases(st), workflows.PhaseAwaitingApproval)
	require.True(t, hasEvent(st, "approved", "alice"))
	h.fleetIs("v2", 4)
}

func TestApprovalRefusedForUnlistedApprover(t *testing.T) {
	h := newHarness(t)
	bad := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "mallory"}, 2*time.Hour)
	good := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "bob"}, 3*time.Hour)
	st, err := h.run(approvalSpec(schemas.OnTimeoutAbort))
	require.NoError(t, err)
	require.EqualError(t, bad.rejected, "mallory may not approve release/board/prod: approvers are alice, bob")
	require.NoError(t, good.rejected)
	require.False(t, hasEvent(st, "approved", "mallory"))
	require.True(t, hasEvent(st, "approved", "bob"))
	h.fleetIs("v2", 4)
}

func TestApprovalTimeoutAborts(t *testing.T) {
	h := newHarness(t)
	st, err := h.run(approvalSpec(schemas.OnTimeoutAbort))
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, "approval timed out after 24h0m0s", st.Error)
	h.fleetIs("v1", 4)
}

func TestApprovalTimeoutPromotes(t *testing.T) {
	h := newHarness(t)
	st, err := h.run(approvalSpec(schemas.OnTimeoutPromote))
	require.NoError(t, err)
	require.True(t, hasEvent(st, "approval-timeout", ""))
	h.fleetIs("v2", 4)
}

func TestApprovalBySignal(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.UpdateApprove, workflows.ApproveRequest{By: "mallory"})
	}, 2*time.Hour)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"})
	}, 3*time.Hour)
	st, err := h.run(approvalSpec(schemas.OnTimeoutAbort))
	require.NoError(t, err)
	require.True(t, hasEvent(st, "refused", "mallory"), "a refused signal is recorded")
	require.True(t, hasEvent(st, "approved", "alice"))
}

func TestUnhealthyCanaryRollsBack(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", true) }, 10*time.Minute)
	st, err := h.run(spec())
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "canary failed 2 check(s)")
	require.Equal(t, 2, st.FailedChecks)
	h.fleetIs("v1", 4)
}

func TestCanaryThatNeverGetsHealthyRollsBack(t *testing.T) {
	h := newHarness(t)
	h.fleet.SetUnhealthy("v2", true)
	st, err := h.run(spec())
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "failed its health check")
	h.fleetIs("v1", 4)
}

func hookServer(t *testing.T, failing string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == failing {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestFailingPreTrafficHookRollsBack(t *testing.T) {
	h := newHarness(t)
	addr := hookServer(t, "/smoke")
	h.fleet.SetAddress(func(string) string { return addr })
	s := spec()
	s.Hooks.PreTraffic = []schemas.Hook{{HTTP: &schemas.HTTPHook{Path: "/smoke", Expect: 200}}}
	st, err := h.run(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "preTraffic hook failed")
	require.Contains(t, st.Error, "answered 500, want 200")
	require.NotContains(t, phases(st), workflows.PhaseSoaking, "the canary never took traffic")
	h.fleetIs("v1", 4)
}

func TestFailingPostPromoteHookRollsBack(t *testing.T) {
	h := newHarness(t)
	addr := hookServer(t, "/landing")
	h.fleet.SetAddress(func(string) string { return addr })
	s := spec()
	s.Hooks.PreTraffic = []schemas.Hook{{HTTP: &schemas.HTTPHook{Path: "/smoke", Expect: 200}}}
	s.Hooks.PostPromote = []schemas.Hook{{Name: "landing", HTTP: &schemas.HTTPHook{Path: "/landing", Expect: 200}}}
	st, err := h.run(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "postPromote hook failed")
	// The old fleet was detached but not yet terminated: it serves again at once.
	h.fleetIs("v1", 4)
	require.Equal(t, 8, h.fleet.Launches(), "no relaunch was needed")
}

func TestCommandHook(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Hooks.PreTraffic = []schemas.Hook{{Command: &schemas.CommandHook{Args: []string{"sh", "-c", `test "$ZERODOWN_VERSION" = v2 && test "$ZERODOWN_STAGE" = preTraffic`}}}}
	_, err := h.run(s)
	require.NoError(t, err)
	h.fleetIs("v2", 4)
}

func TestPauseThenResume(t *testing.T) {
	h := newHarness(t)
	pause := h.update(workflows.UpdatePause, workflows.ActorRequest{By: "alice"}, 20*time.Minute)
	again := h.update(workflows.UpdatePause, workflows.ActorRequest{By: "bob"}, 30*time.Minute)
	var paused workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&paused))
	}, 2*time.Hour)
	resume := h.update(workflows.UpdateResume, workflows.ActorRequest{By: "alice"}, 3*time.Hour)
	st, err := h.run(spec())
	require.NoError(t, err)
	require.NoError(t, pause.rejected)
	require.EqualError(t, again.rejected, "already paused by alice")
	require.NoError(t, resume.rejected)
	require.True(t, paused.Paused)
	require.Equal(t, workflows.PhaseSoaking, paused.Phase)
	// The soak clock stopped while paused: 40 minutes were left when alice paused.
	var soakStart, promoteStart time.Time
	for _, p := range st.Phases {
		switch p.Phase {
		case workflows.PhaseSoaking:
			soakStart = p.Started
		case workflows.PhasePromoting:
			promoteStart = p.Started
		}
	}
	require.GreaterOrEqual(t, promoteStart.Sub(soakStart), 3*time.Hour+40*time.Minute-time.Minute)
	h.fleetIs("v2", 4)
}

func TestPromoteSkipsSoak(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Canary.Soak = schemas.Duration(4 * time.Hour)
	s.Canary.Approval = schemas.Approval{Required: true, Approvers: []string{"alice"}}
	bad := h.update(workflows.UpdatePromote, workflows.ActorRequest{By: "eve"}, 5*time.Minute)
	ok := h.update(workflows.UpdatePromote, workflows.ActorRequest{By: "alice"}, 10*time.Minute)
	h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 15*time.Minute)
	st, err := h.run(s)
	require.NoError(t, err)
	require.ErrorContains(t, bad.rejected, "eve may not promote")
	require.NoError(t, ok.rejected)
	require.True(t, hasEvent(st, "soak-skipped", "alice"))
	require.Less(t, st.Ended.Sub(st.Started), time.Hour)
}

// Once a release has ended it refuses every request, though the workflow stays open a
// little longer: it waits for the last notifications to go out. Slack failing the outcome
// message keeps it open (the Notify activity retries) while an abort arrives.
func TestRequestsAfterTheEndAreRefused(t *testing.T) {
	// A first release, told without trouble, says how long a release takes.
	h := notifyHarness(t, &recorder{})
	st, err := h.run(spec())
	require.NoError(t, err)
	took := st.Ended.Sub(st.Started)

	h = notifyHarness(t, &recorder{failOn: timeline.KindSucceeded})
	late := h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "alice"}, took+2*time.Second)
	st, err = h.run(spec())
	require.NoError(t, err)
	require.Equal(t, took, st.Ended.Sub(st.Started), "both releases run the same course")
	require.True(t, late.done, "the abort reached the release while it was telling people of its end")
	require.ErrorContains(t, late.rejected, "already finished (Succeeded)")
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Empty(t, st.AbortedBy)
}

func TestContinueAsNewKeepsState(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Canary.Soak = schemas.Duration(4 * time.Hour)
	// One failed check in the first run must still count in the next one.
	h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", true) }, 10*time.Minute+30*time.Second)
	h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", false) }, 11*time.Minute+30*time.Second)
	in := workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci", ChecksPerRun: 50}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, in)
	err := h.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next workflows.ReleaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, workflows.PhaseSoaking, next.State.Status.Phase)
	require.Equal(t, 50*time.Minute, next.State.SoakElapsed.Round(time.Minute))
	require.Len(t, next.State.CanaryIDs, 1)
	require.Equal(t, 1, next.State.Status.FailedChecks, "failed checks survive the new run")
	require.True(t, hasEvent(next.State.Status, "check-failed", ""))
	require.Equal(t, 5, h.fleet.Launches())

	// The next run resumes the soak where it was: the same canary, no new launch.
	h2 := &harness{t: t, env: newEnv(), fleet: h.fleet}
	h2.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h2.env.RegisterActivity(activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil))
	next.ChecksPerRun = 1000
	// One check failed, so the soak was not clean: a human reviews before promotion.
	review := h2.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "oncall"}, 4*time.Hour)
	h2.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, next)
	require.NoError(t, h2.env.GetWorkflowError())
	var st workflows.Status
	require.NoError(t, h2.env.GetWorkflowResult(&st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, 1, st.Run)
	require.NoError(t, review.rejected)
	require.True(t, hasEvent(st, "approved", "oncall"))
	require.Equal(t, 8, h.fleet.Launches(), "the resumed run launched no second canary")
	final, err := h.fleet.Describe(context.Background())
	require.NoError(t, err)
	_, kept := final.Find(next.State.CanaryIDs[0])
	require.True(t, kept, "the canary from the first run is part of the final fleet")
	h2.fleetIs("v2", 4)
}

func TestManualRollbackWaitsForAbort(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Rollback.Automatic = false
	h.env.RegisterDelayedCallback(func() { h.fleet.SetUnhealthy("v2", true) }, 10*time.Minute)
	var halted workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&halted))
	}, 5*time.Hour)
	h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "oncall", Reason: "canary unhealthy"}, 6*time.Hour)
	st, err := h.run(s)
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	// Hours after the failure the fleet was left as it was, canary included.
	require.True(t, hasEvent(halted, "halted", ""))
	require.Contains(t, halted.Error, "halted: abort to roll back")
	require.Len(t, halted.Fleet.Instances, 5)
	require.Equal(t, "oncall", st.AbortedBy)
	h.fleetIs("v1", 4)
}

func TestApprovalPolicyCountFourEyesGroupsAndGates(t *testing.T) {
	h := newHarness(t)
	s := spec()
	s.Canary.Approval = schemas.Approval{
		Required: true, Approvers: []string{"alice", "group:sre"}, Groups: map[string][]string{"sre": {"bob", "carol"}},
		Count: 2, FourEyes: true, Gates: []string{schemas.GateAfterSoak, schemas.GateBeforeLastBatch},
		Timeout: schemas.Duration(24 * time.Hour), OnTimeout: schemas.OnTimeoutAbort,
	}
	starter := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "ci"}, 2*time.Hour)
	first := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "Alice"}, 2*time.Hour+time.Minute)
	twice := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 2*time.Hour+2*time.Minute)
	var halfway workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&halfway))
	}, 2*time.Hour+3*time.Minute)
	second := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "bob"}, 2*time.Hour+4*time.Minute)
	// The last batch waits at its own gate, for two approvals again.
	last1 := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "carol"}, 5*time.Hour)
	last2 := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 5*time.Hour+time.Minute)

	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, h.env.GetWorkflowError())
	var st workflows.Status
	require.NoError(t, h.env.GetWorkflowResult(&st))

	// ci started the release and is no approver, directly or through a group.
	require.ErrorContains(t, starter.rejected, "ci may not approve release/board/prod: approvers are alice, group:sre (bob, carol)")
	require.NoError(t, first.rejected)
	require.Equal(t, "approved by Alice (1 of 2)", first.result)
	require.EqualError(t, twice.rejected, "alice already approved release/board/prod (1 of 2 approvals)")
	require.Equal(t, workflows.PhaseAwaitingApproval, halfway.Phase)
	require.Equal(t, schemas.GateAfterSoak, halfway.PendingApproval.Gate)
	require.Equal(t, []string{"Alice"}, halfway.PendingApproval.Approvals)
	require.Equal(t, []string{"alice", "bob", "carol"}, halfway.PendingApproval.Approvers)
	require.NoError(t, second.rejected)
	require.NoError(t, last1.rejected)
	require.NoError(t, last2.rejected)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	gates := 0
	for _, e := range st.Timeline {
		if e.Kind == "approval-requested" {
			gates++
		}
	}
	require.Equal(t, 2, gates)
	h.fleetIs("v2", 4)
}

func TestFourEyesRefusesTheStarter(t *testing.T) {
	h := newHarness(t)
	s := approvalSpec(schemas.OnTimeoutAbort)
	s.Canary.Approval.FourEyes = true
	self := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 2*time.Hour)
	other := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "bob"}, 3*time.Hour)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "alice"})
	require.NoError(t, h.env.GetWorkflowError())
	require.EqualError(t, self.rejected, "alice started release/board/prod and may not approve it too (canary.approval.fourEyes)")
	require.NoError(t, other.rejected)
}

// A release checks its own input: a spec that never went through `zerodown validate`
// (started with the plain temporal CLI, or by a script) fails at once, naming the
// field, and changes nothing.
func TestInvalidInputFailsBeforeAnythingChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*schemas.Spec, *workflows.ReleaseInput)
		field string
	}{
		{"batch", func(s *schemas.Spec, _ *workflows.ReleaseInput) { s.Promote.Batch = "lots" }, "promote.batch"},
		{"canary bigger than the fleet", func(s *schemas.Spec, _ *workflows.ReleaseInput) { s.Canary.Instances = 9 }, "canary.instances"},
		{"no version", func(_ *schemas.Spec, in *workflows.ReleaseInput) { in.Version = " " }, "version: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seeded := h.fleet.Launches()
			s := spec()
			in := workflows.ReleaseInput{Version: "v2", StartedBy: "ci"}
			tc.edit(&s, &in)
			in.Spec = s
			h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
			h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, in)
			err := h.env.GetWorkflowError()
			require.Error(t, err)
			require.Equal(t, workflows.ErrTypeInvalidInput, errType(err))
			require.ErrorContains(t, err, tc.field)
			require.Equal(t, seeded, h.fleet.Launches(), "nothing launched")
			h.fleetIs("v1", 4)
		})
	}
	// The workflow ID is the lock that keeps two releases off one fleet: it must match.
	h := newHarness(t)
	seeded := h.fleet.Launches()
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "release/board/prod-2"})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: spec(), Version: "v2"})
	require.ErrorContains(t, h.env.GetWorkflowError(), `workflow ID "release/board/prod-2" does not match the spec`)
	require.Equal(t, seeded, h.fleet.Launches())
}
