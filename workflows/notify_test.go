package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zerodown/zerodown/timeline"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// recorder stands in for Slack in workflow tests (notify's own tests use slacktest): it
// keeps what it was asked to deliver, and can fail.
type recorder struct {
	mu     sync.Mutex
	got    []notify.Request
	failOn timeline.EventKind
}

func (r *recorder) Notify(_ context.Context, req notify.Request) (notify.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Event.Kind == r.failOn {
		return notify.Result{}, errors.New("slack is down")
	}
	r.got = append(r.got, req)
	return notify.Result{Thread: "slack:C1:1700000000.000100"}, nil
}

func (r *recorder) kinds() []timeline.EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []timeline.EventKind
	for _, req := range r.got {
		if req.Event.Kind != timeline.KindPhase {
			out = append(out, req.Event.Kind)
		}
	}
	return out
}

func notifyHarness(t *testing.T, rec *recorder) *harness {
	h := newHarness(t)
	h.env = newEnv()
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil)
	acts.Notifier = rec
	h.env.RegisterWorkflow(workflows.ReleaseWorkflow)
	h.env.RegisterActivity(acts)
	return h
}

func TestPeopleAreToldInOrderInOneThread(t *testing.T) {
	rec := &recorder{}
	h := notifyHarness(t, rec)
	s := approvalSpec(schemas.OnTimeoutAbort)
	s.Notify.Slack = &schemas.SlackNotify{Channel: "#releases"}
	h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "bob", Comment: "lgtm"}, 2*time.Hour)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci", Changelog: "- faster boards"})
	require.NoError(t, h.env.GetWorkflowError())

	require.Equal(t, []timeline.EventKind{timeline.KindStarted, timeline.KindCanary, timeline.KindApprovalRequested, timeline.KindApproved,
		timeline.KindBatch, timeline.KindBatch, timeline.KindSucceeded}, rec.kinds())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	first := rec.got[0]
	require.Equal(t, "#releases", first.Channel)
	require.Empty(t, first.Thread, "the first event opens the thread")
	require.Equal(t, "- faster boards", first.Event.Changelog)
	seq := 0
	for _, req := range rec.got[1:] {
		require.Equal(t, "slack:C1:1700000000.000100", req.Thread, "every later event replies in the thread")
		require.Greater(t, req.Event.Seq, seq)
		seq = req.Event.Seq
		if req.Event.Kind == timeline.KindApprovalRequested {
			require.NotNil(t, req.Event.Approval)
			require.Equal(t, "alice, bob", req.Event.Approval.Approvers)
		}
		if req.Event.Kind == timeline.KindApproved {
			require.Equal(t, "bob", req.Event.By)
		}
	}
}

func TestAFailingNotificationNeverFailsTheRelease(t *testing.T) {
	rec := &recorder{failOn: timeline.KindCanary}
	h := notifyHarness(t, rec)
	s := spec()
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, workflows.ReleaseInput{Spec: s, Version: "v2"})
	require.NoError(t, h.env.GetWorkflowError())
	var st workflows.Status
	require.NoError(t, h.env.GetWorkflowResult(&st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Contains(t, st.NotifyError, "canary: slack is down")
	require.Contains(t, rec.kinds(), timeline.KindSucceeded, "later events are still sent")
	h.fleetIs("v2", 4)
}

func TestPeopleAreToldWhyAReleaseRolledBack(t *testing.T) {
	rec := &recorder{}
	h := notifyHarness(t, rec)
	s := spec()
	h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "alice", Reason: "error budget"}, 20*time.Minute)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, workflows.ReleaseInput{Spec: s, Version: "v2"})
	require.Error(t, h.env.GetWorkflowError())
	require.Equal(t, []timeline.EventKind{timeline.KindStarted, timeline.KindCanary, timeline.KindAborted, timeline.KindRollback, timeline.KindRolledBack}, rec.kinds())
	rec.mu.Lock()
	defer rec.mu.Unlock()
	last := rec.got[len(rec.got)-1].Event
	require.Equal(t, "aborted by alice: error budget", last.Error)
}
