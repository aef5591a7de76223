package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// scripted stands in for a metric analyzer (analysis/ tests the real ones against real
// Prometheus and real instances): it answers each check with the verdict its function
// gives for that check, so a test can say "the third check is inconclusive".
type scripted struct {
	mu      sync.Mutex
	n       int
	verdict func(n int, req analysis.Request) string
	seen    []analysis.Request
}

func (s *scripted) Analyze(_ context.Context, req analysis.Request) (analysis.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.seen = append(s.seen, req)
	v := s.verdict(s.n, req)
	return analysis.Result{Verdict: v, Summary: "scripted " + v}, nil
}

func analysisHarness(t *testing.T, an *scripted) *harness {
	h := newHarness(t)
	h.env = newEnv()
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil)
	acts.Analyzers[schemas.AnalysisHealth] = an
	h.env.RegisterWorkflow(workflows.ReleaseWorkflow)
	h.env.RegisterActivity(acts)
	return h
}

func (h *harness) runSpec(s schemas.Spec) (workflows.Status, error) {
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	return h.run(s)
}

func TestInconclusiveBeyondTheLimitAsksAHuman(t *testing.T) {
	an := &scripted{verdict: func(n int, _ analysis.Request) string {
		if n >= 3 && n <= 5 {
			return analysis.Inconclusive
		}
		return analysis.Pass
	}}
	h := analysisHarness(t, an)
	s := spec()
	s.Canary.Analysis.InconclusiveLimit = 2
	s.Canary.Approval.Timeout = schemas.Duration(time.Hour)
	var waiting workflows.Status
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&waiting))
	}, 10*time.Minute)
	ok := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "oncall", Comment: "prometheus was restarting"}, 20*time.Minute)
	// The soak was not clean either, so promotion waits for a review as well.
	reviewed := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "oncall"}, 2*time.Hour)
	st, err := h.runSpec(s)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseAwaitingApproval, waiting.Phase)
	require.Equal(t, workflows.GateInconclusive, waiting.PendingApproval.Gate)
	require.Contains(t, waiting.PendingApproval.Reason, "3 inconclusive checks, more than inconclusiveLimit 2")
	require.NoError(t, ok.rejected)
	require.Equal(t, 3, st.InconclusiveChecks)
	// After the human, the soak went on: the time waiting did not count as soak.
	var soakStart, promote time.Time
	for _, p := range st.Phases {
		if p.Phase == workflows.PhaseSoaking && soakStart.IsZero() {
			soakStart = p.Started
		}
		if p.Phase == workflows.PhasePromoting {
			promote = p.Started
		}
	}
	require.GreaterOrEqual(t, promote.Sub(soakStart), time.Hour+15*time.Minute)
	require.NoError(t, reviewed.rejected)
	gates := 0
	for _, e := range st.Timeline {
		if e.Kind == "approval-requested" {
			gates++
		}
	}
	require.Equal(t, 2, gates, "the inconclusive gate, then the review")
	h.fleetIs("v2", 4)
}

func TestInconclusiveGateTimesOutToAbort(t *testing.T) {
	an := &scripted{verdict: func(int, analysis.Request) string { return analysis.Inconclusive }}
	h := analysisHarness(t, an)
	s := spec()
	s.Canary.Analysis.InconclusiveLimit = 1
	s.Canary.Approval.Timeout = schemas.Duration(time.Hour)
	s.Canary.Approval.OnTimeout = schemas.OnTimeoutAbort
	st, err := h.runSpec(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, "approval timed out after 1h0m0s", st.Error)
	h.fleetIs("v1", 4)
}

func TestUncleanSoakWaitsForAReviewInsteadOfAutoPromoting(t *testing.T) {
	an := &scripted{verdict: func(n int, _ analysis.Request) string {
		if n == 2 {
			return analysis.Fail
		}
		return analysis.Pass
	}}
	h := analysisHarness(t, an)
	s := spec()
	s.Canary.Approval.Timeout = schemas.Duration(2 * time.Hour)
	review := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "oncall"}, 90*time.Minute)
	st, err := h.runSpec(s)
	require.NoError(t, err)
	require.NoError(t, review.rejected)
	require.False(t, hasEvent(st, "auto-promote", ""))
	require.True(t, hasEvent(st, "approved", "oncall"))
	h.fleetIs("v2", 4)
}

func TestFailedCheckBetweenBatchesRollsBack(t *testing.T) {
	an := &scripted{verdict: func(_ int, req analysis.Request) string {
		if len(req.Canary) > 1 { // after a batch, not the single canary
			return analysis.Fail
		}
		return analysis.Pass
	}}
	h := analysisHarness(t, an)
	s := spec()
	s.Promote.Batch = "1"
	s.Canary.Analysis.BetweenBatches = true
	s.Canary.Analysis.FailureLimit = 1
	st, err := h.runSpec(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "batch 1/3: scripted Fail")
	// The check saw the new instances against the old ones still serving.
	last := an.seen[len(an.seen)-1]
	require.Len(t, last.Canary, 2)
	require.Len(t, last.Baseline, 2, "4 wanted - 2 new")
	h.fleetIs("v1", 4)
}

func TestFailedPostPromotionCheckRollsBackAtOnce(t *testing.T) {
	an := &scripted{verdict: func(_ int, req analysis.Request) string {
		if len(req.Canary) == 4 && len(req.Baseline) == 0 {
			return analysis.Fail
		}
		return analysis.Pass
	}}
	h := analysisHarness(t, an)
	s := spec()
	s.Canary.Analysis.PostPromotion = schemas.Duration(10 * time.Minute)
	st, err := h.runSpec(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Error, "post-promotion: scripted Fail")
	// The old fleet had not drained yet: it took the traffic back, nothing relaunched.
	h.fleetIs("v1", 4)
	require.Equal(t, 8, h.fleet.Launches())
}
