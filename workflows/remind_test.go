package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/pagerduty"
	"github.com/zerodown/zerodown/notify/pagerduty/pagerdutytest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// People in time: reminders before a gate opens, escalations when nobody answers. Slack is
// the recorder (notify_test.go); PagerDuty, which cannot run here, is pagerdutytest's
// stand-in, reached by the real pagerduty client.

const routingKey = "test-routing-key"

func remindBlock() *schemas.Remind {
	return &schemas.Remind{
		Before: schemas.Duration(15 * time.Minute), Mention: []string{"@oncall", "U123"},
		EscalateAfter: schemas.Duration(30 * time.Minute), EscalateTo: []string{"@lead"}, Page: true,
	}
}

// remindSpec is a release with a one-hour soak and an after-soak gate that waits two
// hours, then promotes.
func remindSpec() schemas.Spec {
	s := approvalSpec(schemas.OnTimeoutPromote)
	s.Canary.Approval.Timeout = schemas.Duration(2 * time.Hour)
	s.Canary.Approval.Remind = remindBlock()
	s.Notify.Slack = &schemas.SlackNotify{Channel: "#releases"}
	return s
}

func remindHarness(t *testing.T) (*harness, *recorder, *pagerdutytest.Server) {
	rec := &recorder{}
	pd := pagerdutytest.New(routingKey)
	t.Cleanup(pd.Close)
	h := newHarness(t)
	h.env = newEnv()
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil)
	acts.Notifier = rec
	acts.Pager = pagerduty.New(pd.URL(), routingKey, nil)
	h.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h.env.RegisterActivity(acts)
	return h, rec, pd
}

// told is the events of kind people were told of.
func (r *recorder) told(kind timeline.EventKind) []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Event
	for _, req := range r.got {
		if req.Event.Kind == kind {
			out = append(out, req.Event)
		}
	}
	return out
}

func soakStart(t *testing.T, st workflows.Status) time.Time {
	t.Helper()
	for _, p := range st.Phases {
		if p.Phase == workflows.PhaseSoaking {
			return p.Started
		}
	}
	require.Fail(t, "no soak", "%+v", st.Phases)
	return time.Time{}
}

func TestGateReminderGoesBeforeTheSoakEnds(t *testing.T) {
	h, rec, pd := remindHarness(t)
	s := remindSpec()
	// Approved 10 minutes after the gate opens (the soak ends about 1h in): no escalation.
	ok := h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, time.Hour+15*time.Minute)
	st, err := h.run(s)
	require.NoError(t, err)
	require.NoError(t, ok.rejected)

	reminders := rec.told(timeline.KindReminder)
	require.Len(t, reminders, 1, "one reminder")
	require.Equal(t, []string{"@oncall", "U123"}, reminders[0].Mentions)
	require.Equal(t, workflows.PhaseSoaking, reminders[0].Phase, "it goes during the soak, before the gate opens")
	soakEnd := soakStart(t, st).Add(time.Hour)
	require.WithinDuration(t, soakEnd.Add(-15*time.Minute), reminders[0].Time, time.Minute, "15m before the soak ends")
	require.Empty(t, rec.told(timeline.KindEscalated), "answered in time: no escalation")

	require.Len(t, st.Reminders, 1)
	require.Equal(t, schemas.GateAfterSoak, st.Reminders[0].Gate)
	events := pd.Events()
	require.Len(t, events, 1, "paged once, for the reminder")
	require.Equal(t, "trigger", events[0].EventAction)
	require.Regexp(t, `^release/board/prod/.*/afterSoak/reminder$`, events[0].DedupKey)
	require.Equal(t, "warning", events[0].Payload.Severity)
	require.Empty(t, st.PageError)
}

func TestGateEscalatesOnceWhenNobodyAnswers(t *testing.T) {
	h, rec, pd := remindHarness(t)
	st, err := h.run(remindSpec())
	require.NoError(t, err, "onTimeout promote")
	require.True(t, hasEvent(st, timeline.KindApprovalTimeout, ""))

	require.Len(t, rec.told(timeline.KindReminder), 1)
	esc := rec.told(timeline.KindEscalated)
	require.Len(t, esc, 1, "one escalation")
	require.Equal(t, []string{"@lead"}, esc[0].Mentions)
	opened := eventAt(t, st, timeline.KindApprovalRequested)
	require.Equal(t, 30*time.Minute, esc[0].Time.Sub(opened), "escalateAfter after the gate opened")
	require.NotNil(t, esc[0].Approval, "the escalation shows the open gate")

	events := pd.Events()
	require.Len(t, events, 2)
	require.Regexp(t, `/afterSoak/escalated$`, events[1].DedupKey)
	require.Equal(t, "critical", events[1].Payload.Severity)
}

func TestGateWithoutForesightRemindsWhenItOpens(t *testing.T) {
	h, rec, _ := remindHarness(t)
	s := remindSpec()
	s.Canary.Approval.Gates = []string{schemas.GateBeforeLastBatch}
	s.Canary.Approval.Remind.Before = 0
	h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, time.Hour+20*time.Minute)
	st, err := h.run(s)
	require.NoError(t, err)
	r := rec.told(timeline.KindReminder)
	require.Len(t, r, 1)
	require.Equal(t, eventAt(t, st, timeline.KindApprovalRequested), r[0].Time)
	require.Equal(t, workflows.PhaseAwaitingApproval, r[0].Phase)
}

// A reminder sent before continue-as-new is not sent again by the next run.
func TestGateReminderNotSentAgainAfterContinueAsNew(t *testing.T) {
	h, rec, pd := remindHarness(t)
	s := remindSpec()
	s.Canary.Soak = schemas.Duration(4 * time.Hour)
	s.Canary.Approval.Remind.Before = schemas.Duration(3*time.Hour + 30*time.Minute) // at ~30m
	in := workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci", ChecksPerRun: 50}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, in)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var next workflows.ReleaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.State.Status.Reminders, 1, "the reminder went in the first run")
	require.Len(t, rec.told(timeline.KindReminder), 1)

	h2, rec2, pd2 := remindHarness(t)
	h2.fleet = h.fleet
	h2.env = newEnv()
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: h.fleet.Factory}, nil)
	acts.Notifier = rec2
	acts.Pager = pagerduty.New(pd2.URL(), routingKey, nil)
	h2.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h2.env.RegisterActivity(acts)
	next.ChecksPerRun = 1000
	h2.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, 3*time.Hour+20*time.Minute)
	h2.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, next)
	require.NoError(t, h2.env.GetWorkflowError())
	require.Empty(t, rec2.told(timeline.KindReminder), "not sent again")
	require.Len(t, pd.Events(), 1)
	require.Empty(t, pd2.Events(), "not paged again")
}

func TestConfirmStepRemindsWhenItsLastDependencyStartsAndEscalates(t *testing.T) {
	rec := &recorder{}
	pd := pagerdutytest.New(routingKey)
	defer pd.Close()
	h := newChangeHarnessTelling(t, rec)
	h.env = newEnv()
	factory := func(tg schemas.Target) (fleet.Fleet, error) { return h.fleets[tg.Memory.Fleet], nil }
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: factory}, nil)
	acts.Notifier = rec
	acts.Pager = pagerduty.New(pd.URL(), routingKey, nil)
	h.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h.env.RegisterWorkflowWithOptions(workflows.ChangeWorkflow, workflow.RegisterOptions{Name: workflows.ChangeWorkflowName})
	h.env.RegisterActivity(acts)

	spec := h.night()
	spec.Notify.Slack = &schemas.SlackNotify{Channel: "#night"}
	landing := spec.Steps[len(spec.Steps)-1].Confirm
	landing.Remind = remindBlock()
	landing.Remind.Before = 0
	// The landing opens after both releases (about 1h40m); its confirmation comes 45
	// minutes later, after the escalation.
	done := h.confirm("landing", "client", 2*time.Hour+40*time.Minute, all)
	st, err := h.run(spec)
	require.NoError(t, err)
	require.NoError(t, done.rejected)

	var web, landingStep workflows.StepStatus
	for _, s := range st.Steps {
		switch s.ID {
		case "web":
			web = s
		case "landing":
			landingStep = s
		}
	}
	r := rec.told(timeline.KindReminder)
	require.Len(t, r, 1, "one reminder")
	require.Equal(t, []string{"@oncall", "U123"}, r[0].Mentions)
	require.Equal(t, web.Started, r[0].Time, "when web, the last step landing waits for, starts")
	require.Equal(t, web.Started, landingStep.RemindedAt)
	e := rec.told(timeline.KindEscalated)
	require.Len(t, e, 1, "one escalation")
	require.Equal(t, 30*time.Minute, landingStep.EscalatedAt.Sub(landingStep.Started))
	require.Equal(t, []string{"@lead"}, e[0].Mentions)
	events := pd.Events()
	require.Len(t, events, 2)
	require.Regexp(t, `^change/night/.*/landing/reminder$`, events[0].DedupKey)
	require.Regexp(t, `^change/night/.*/landing/escalated$`, events[1].DedupKey)
}

// A worker with no pager does not fail the release: the failed page is in the status.
func TestPageWithoutAPagerIsRecordedNotFatal(t *testing.T) {
	h := newHarness(t)
	h.update(workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}, time.Hour+15*time.Minute)
	st, err := h.run(remindSpec())
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Contains(t, st.PageError, "no pager: the worker has no ZERODOWN_PAGERDUTY_ROUTING_KEY")
	require.Len(t, st.Reminders, 1, "the reminder went, without a page")
}
