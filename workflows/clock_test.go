package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/timerules"
	"github.com/zerodown/zerodown/workflows"
)

// The clock rules with time skipping: the test environment's clock starts where each
// test says, and durable timers jump.

// freezeBook stands in for the freeze workflows of an environment (tested on the dev
// server in their own package): freezes by instants, and overrides by target.
type freezeBook struct {
	mu        sync.Mutex
	from, to  time.Time
	reason    string
	overrides map[string]freeze.Override
	now       func() time.Time
}

func (b *freezeBook) FreezeState(_ context.Context, _, target string) (freeze.State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if now.Before(b.from) || !now.Before(b.to) {
		return freeze.State{}, nil
	}
	st := freeze.State{Frozen: true, Until: b.to, Reason: b.reason}
	if o, ok := b.overrides[target]; ok {
		st.Overridden, st.Overrides = true, []freeze.Override{o}
	}
	return st, nil
}

func (b *freezeBook) override(target string, o freeze.Override) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.overrides[target] = o
}

type clockHarness struct {
	*harness
	book *freezeBook
}

func newClockHarness(t *testing.T, start time.Time) *clockHarness {
	env := newEnv()
	env.SetStartTime(start)
	f := memory.New()
	f.Seed("v1", 4)
	book := &freezeBook{overrides: map[string]freeze.Override{}, now: env.Now}
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: f.Factory}, nil)
	acts.Freezes = book
	env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	env.RegisterActivity(acts)
	return &clockHarness{harness: &harness{t: t, env: env, fleet: f}, book: book}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// eventAt is when the first event of kind happened.
func eventAt(t *testing.T, st workflows.Status, kind timeline.EventKind) time.Time {
	t.Helper()
	for _, e := range st.Timeline {
		if e.Kind == kind {
			return e.Time
		}
	}
	require.Failf(t, "no event", "no %s event in %+v", kind, st.Timeline)
	return time.Time{}
}

// alicePromotesOnTimeout names alice the approver, and promotes when she says nothing.
var alicePromotesOnTimeout = schemas.Approval{
	Required: true, Approvers: []string{"alice"}, Timeout: schemas.Duration(time.Hour), OnTimeout: schemas.OnTimeoutPromote,
}

func windowSpec(days ...string) schemas.Spec {
	s := spec()
	s.Window = []timerules.Window{{Days: days, From: "01:30", Until: "05:00", Timezone: "Europe/London"}}
	return s
}

// A release started outside its window waits for it on a durable timer, and says so; on
// the nights the clocks change the window opens once, at the first instant that exists.
func TestWindowOpensLater(t *testing.T) {
	for _, tc := range []struct{ name, start, day, opens, says string }{
		{"a Tuesday", "2026-03-23T12:00:00Z", "tue", "2026-03-24T01:30:00Z", "Tue 01:30"},
		// 01:30 does not exist in London on 29 March 2026: the clocks go from 01:00 GMT
		// to 02:00 BST. The window opens at 02:00 BST.
		{"spring forward", "2026-03-28T12:00:00Z", "sun", "2026-03-29T01:00:00Z", "Sun 02:00"},
		// 01:30 happens twice on 25 October 2026: first in BST (00:30 UTC), then in GMT.
		{"fall back", "2026-10-24T12:00:00Z", "sun", "2026-10-25T00:30:00Z", "Sun 01:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newClockHarness(t, utc(tc.start))
			st, err := h.run(windowSpec(tc.day))
			require.NoError(t, err)
			require.Equal(t, workflows.PhaseSucceeded, st.Phase)
			require.Contains(t, phases(st), workflows.PhaseWaiting)
			require.True(t, eventAt(t, st, timeline.KindCanary).Equal(utc(tc.opens)), "canary at %s, want %s", eventAt(t, st, timeline.KindCanary), tc.opens)
			var waiting []string
			for _, e := range st.Timeline {
				if e.Kind == timeline.KindWaiting {
					waiting = append(waiting, e.Message)
				}
			}
			require.Len(t, waiting, 1, "one wait, told once")
			require.Equal(t, "waiting for the window, opens "+tc.says+" Europe/London", waiting[0])
		})
	}
}

func TestStartNowSkipsTheWait(t *testing.T) {
	h := newClockHarness(t, utc("2026-03-23T12:00:00Z"))
	s := windowSpec("tue")
	s.Canary.Approval = alicePromotesOnTimeout
	bad := h.update(workflows.UpdateStartNow, workflows.StartNowRequest{By: "mallory", Reason: "why not"}, 30*time.Minute)
	noReason := h.update(workflows.UpdateStartNow, workflows.StartNowRequest{By: "alice"}, 40*time.Minute)
	ok := h.update(workflows.UpdateStartNow, workflows.StartNowRequest{By: "alice", Reason: "hotfix for the outage"}, time.Hour)
	st, err := h.run(s)
	require.NoError(t, err)
	require.ErrorContains(t, bad.rejected, "mallory may not start outside the window")
	require.ErrorContains(t, noReason.rejected, "reason is required")
	require.NoError(t, ok.rejected)
	require.True(t, eventAt(t, st, timeline.KindCanary).Equal(utc("2026-03-23T13:00:00Z")))
	require.Equal(t, "alice", st.Clock.StartNowBy)
}

// A window that closes mid-release pauses the promote before its next batch, until it
// opens again; what was promoted keeps serving.
func TestWindowClosingPausesBeforeTheNextBatch(t *testing.T) {
	h := newClockHarness(t, utc("2026-03-24T01:30:00Z")) // Tuesday, in the window (GMT)
	s := windowSpec("mon", "tue", "wed", "thu", "fri")
	s.Canary.Soak = schemas.Duration(3 * time.Hour)
	s.Promote.Batch = "1"
	s.Promote.PauseBetweenBatches = schemas.Duration(20 * time.Minute)
	st, err := h.run(s)
	require.NoError(t, err)
	var batches []time.Time
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindBatch {
			batches = append(batches, e.Time)
		}
	}
	require.Len(t, batches, 3)
	require.True(t, batches[0].Equal(utc("2026-03-24T04:30:00Z")), "batch 1 at %s", batches[0])
	require.True(t, batches[1].Equal(utc("2026-03-24T04:50:00Z")), "batch 2 at %s", batches[1])
	require.True(t, batches[2].Equal(utc("2026-03-25T01:30:00Z")), "batch 3 waited for Wednesday's window: %s", batches[2])
	h.fleetIs("v2", 4)
}

// A freeze declared mid-soak holds the promote until it lifts; an approver's override
// lets a release through and says so; --no-wait ends a frozen start Deferred.
func TestFreezes(t *testing.T) {
	start := utc("2026-06-01T09:00:00Z")
	t.Run("declared mid-soak, lifted", func(t *testing.T) {
		h := newClockHarness(t, start)
		h.book.from, h.book.to, h.book.reason = start.Add(30*time.Minute), start.Add(5*time.Hour), "quarter end"
		st, err := h.run(spec())
		require.NoError(t, err)
		require.True(t, eventAt(t, st, timeline.KindBatch).Equal(start.Add(5*time.Hour)), "first batch when the freeze lifted: %s", eventAt(t, st, timeline.KindBatch))
		require.Contains(t, st.Timeline[len(st.Timeline)-1].Message, "Succeeded")
	})
	t.Run("overridden", func(t *testing.T) {
		h := newClockHarness(t, start)
		s := spec()
		s.Canary.Approval = alicePromotesOnTimeout
		h.book.from, h.book.to, h.book.reason = start, start.Add(48*time.Hour), "quarter end"
		h.book.override(s.ID(), freeze.Override{By: "mallory", Reason: "trust me"})
		h.env.RegisterDelayedCallback(func() {
			h.book.override(s.ID(), freeze.Override{By: "alice", Reason: "payments outage fix"})
		}, 2*time.Hour)
		st, err := h.run(s)
		require.NoError(t, err)
		require.True(t, eventAt(t, st, timeline.KindCanary).Equal(start.Add(2*time.Hour)), "mallory's override did not count; alice's did")
		require.True(t, hasEvent(st, timeline.KindFreezeOverridden, "alice"))
		require.Contains(t, st.Clock.FreezeOverride, "payments outage fix")
	})
	t.Run("no-wait", func(t *testing.T) {
		h := newClockHarness(t, start)
		h.book.from, h.book.to, h.book.reason = start, start.Add(48*time.Hour), "quarter end"
		s := spec()
		h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
		h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ci", NoWait: true})
		err := h.env.GetWorkflowError()
		require.Equal(t, workflows.ErrTypeDeferred, errType(err))
		require.ErrorContains(t, err, "quarter end")
		require.Equal(t, 4, h.fleet.Launches(), "nothing launched")
	})
}

// deadlineSpec decides by 02:00 UTC and must be done by 03:00, for a release that begins
// at 01:00.
func deadlineSpec() schemas.Spec {
	s := spec()
	s.Deadline = &timerules.Deadline{DecideBy: "02:00", DoneBy: "03:00", Timezone: "UTC"}
	s.Target.HealthTimeout = schemas.Duration(3 * time.Hour)
	s.Drain.Timeout = schemas.Duration(3 * time.Hour)
	s.Canary.Soak = schemas.Duration(30 * time.Minute)
	return s
}

var night = utc("2026-06-02T01:00:00Z")

// decideBy reached in any phase rolls the release back, done before doneBy.
func TestDecideByRollsBackInEveryPhase(t *testing.T) {
	for _, tc := range []struct {
		phase workflows.Phase
		set   func(h *clockHarness, s *schemas.Spec)
	}{
		// A canary slow to get healthy, and an old instance slow to drain, take three
		// hours of the workflow's clock.
		{workflows.PhaseCanary, func(h *clockHarness, _ *schemas.Spec) {
			h.env.OnActivity("WaitHealthy", mock.Anything, mock.Anything).Return(nil).After(3 * time.Hour).Once()
		}},
		{workflows.PhaseSoaking, func(_ *clockHarness, s *schemas.Spec) { s.Canary.Soak = schemas.Duration(3 * time.Hour) }},
		{workflows.PhaseAwaitingApproval, func(_ *clockHarness, s *schemas.Spec) {
			s.Canary.Approval = schemas.Approval{Required: true, Approvers: []string{"alice"}, Timeout: schemas.Duration(5 * time.Hour)}
		}},
		{workflows.PhasePromoting, func(_ *clockHarness, s *schemas.Spec) {
			s.Promote.Batch = "1"
			s.Promote.PauseBetweenBatches = schemas.Duration(time.Hour)
		}},
		{workflows.PhaseDraining, func(h *clockHarness, _ *schemas.Spec) {
			h.env.OnActivity("WaitDrained", mock.Anything, mock.Anything).Return(activities.DrainResult{}, nil).After(3 * time.Hour).Once()
			h.env.OnActivity("WaitDrained", mock.Anything, mock.Anything).Return(activities.DrainResult{}, nil) // the rollback's
		}},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			h := newClockHarness(t, night)
			s := deadlineSpec()
			tc.set(h, &s)
			st, err := h.run(s)
			require.Equal(t, workflows.ErrTypeRolledBack, errType(err), "%v", err)
			require.Equal(t, workflows.PhaseRolledBack, st.Phase)
			hit := eventAt(t, st, timeline.KindDeadline)
			require.True(t, hit.Equal(utc("2026-06-02T02:00:00Z")), "deadline at %s", hit)
			var was workflows.Phase
			for _, e := range st.Timeline {
				if e.Kind == timeline.KindDeadline {
					was = e.Phase
				}
			}
			require.Equal(t, tc.phase, was)
			require.Contains(t, st.Error, "decideBy Tue 02:00 UTC reached")
			require.False(t, st.Ended.After(utc("2026-06-02T03:00:00Z")), "rolled back by doneBy: ended %s", st.Ended)
			h.fleetIs("v1", 4)
		})
	}
}

func TestDeadlineExtended(t *testing.T) {
	h := newClockHarness(t, night)
	s := deadlineSpec()
	s.Canary.Soak = schemas.Duration(3 * time.Hour)
	s.Canary.Approval = alicePromotesOnTimeout
	bad := h.update(workflows.UpdateExtend, workflows.ExtendRequest{By: "mallory", Extra: schemas.Duration(time.Hour), Reason: "more time"}, 20*time.Minute)
	ok := h.update(workflows.UpdateExtend, workflows.ExtendRequest{By: "alice", Extra: schemas.Duration(4 * time.Hour), Reason: "the client granted more time"}, 30*time.Minute)
	st, err := h.run(s)
	require.NoError(t, err)
	require.ErrorContains(t, bad.rejected, "mallory may not extend")
	require.NoError(t, ok.rejected)
	require.True(t, st.Clock.DecideBy.Equal(utc("2026-06-02T06:00:00Z")))
	require.True(t, hasEvent(st, timeline.KindExtended, "alice"))
	h.fleetIs("v2", 4)
}

// With onDeadline ask, decideBy opens a last chance to extend that closes when a
// rollback would only just end by doneBy.
func TestDeadlineAsk(t *testing.T) {
	s := deadlineSpec()
	s.Canary.Soak = schemas.Duration(3 * time.Hour)
	s.Deadline.OnDeadline = timerules.OnDeadlineAsk
	s.Drain.Timeout = schemas.Duration(5 * time.Minute)
	s.Target.HealthTimeout = schemas.Duration(10 * time.Minute)

	h := newClockHarness(t, night)
	st, err := h.run(s)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	var asked, hit time.Time
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindDeadline && asked.IsZero() {
			asked = e.Time
			require.Contains(t, e.Message, "extend within 45m0s")
		} else if e.Kind == timeline.KindDeadline {
			hit = e.Time
		}
	}
	require.True(t, asked.Equal(utc("2026-06-02T02:00:00Z")))
	require.True(t, hit.Equal(utc("2026-06-02T02:45:00Z")), "rolls back when only the rollback's time is left: %s", hit)
	require.False(t, st.Ended.After(utc("2026-06-02T03:00:00Z")))

	h = newClockHarness(t, night)
	s.Canary.Approval = alicePromotesOnTimeout
	h.update(workflows.UpdateExtend, workflows.ExtendRequest{By: "alice", Extra: schemas.Duration(3 * time.Hour), Reason: "go on"}, 70*time.Minute)
	st, err = h.run(s)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
}

func goNoGoSpec() schemas.Spec {
	s := spec()
	s.GoNoGo = &schemas.GoNoGo{Approvers: []string{"alice", "bob"}, Count: 2, At: "17:00", Timezone: "Europe/London", Timeout: schemas.Duration(time.Hour)}
	return s
}

var afternoon = utc("2026-06-01T12:00:00Z") // 13:00 in London (BST)

func TestGoNoGo(t *testing.T) {
	t.Run("go", func(t *testing.T) {
		h := newClockHarness(t, afternoon)
		early := h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo}, time.Hour)
		h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo}, 4*time.Hour+10*time.Minute)
		twice := h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo}, 4*time.Hour+15*time.Minute)
		h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "bob", Answer: workflows.AnswerGo, Reason: "DBA ready"}, 4*time.Hour+20*time.Minute)
		st, err := h.run(goNoGoSpec())
		require.NoError(t, err)
		require.ErrorContains(t, early.rejected, "not open yet (it opens Mon 16:00")
		require.ErrorContains(t, twice.rejected, "alice has already answered")
		require.True(t, eventAt(t, st, timeline.KindCanary).Equal(utc("2026-06-01T16:20:00Z")))
		h.fleetIs("v2", 4)
	})
	t.Run("no-go", func(t *testing.T) {
		h := newClockHarness(t, afternoon)
		h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo}, 4*time.Hour+10*time.Minute)
		noReason := h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "bob", Answer: workflows.AnswerNoGo}, 4*time.Hour+15*time.Minute)
		h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "bob", Answer: workflows.AnswerNoGo, Reason: "the DBA is ill"}, 4*time.Hour+20*time.Minute)
		st, err := h.run(goNoGoSpec())
		require.Equal(t, workflows.ErrTypeDeferred, errType(err))
		require.ErrorContains(t, noReason.rejected, "reason is required with no-go")
		require.Equal(t, workflows.PhaseDeferred, st.Phase)
		require.Contains(t, st.Error, "no-go from bob: the DBA is ill")
		require.Equal(t, 4, h.fleet.Launches(), "nothing launched")
		h.fleetIs("v1", 4)
	})
	t.Run("timeout", func(t *testing.T) {
		h := newClockHarness(t, afternoon)
		h.update(workflows.UpdateGoNoGo, workflows.GoNoGoRequest{By: "alice", Answer: workflows.AnswerGo}, 4*time.Hour+10*time.Minute)
		st, err := h.run(goNoGoSpec())
		require.Equal(t, workflows.ErrTypeDeferred, errType(err))
		require.Contains(t, st.Error, "1 of 2 go after 1h0m0s")
		require.True(t, st.Ended.Equal(utc("2026-06-01T17:00:00Z")))
		h.fleetIs("v1", 4)
	})
}

// decideBy in the middle of a change (its releases held, the landing tests not yet
// confirmed) rolls everything back, in reverse, before doneBy.
func TestDecideByRollsBackAChange(t *testing.T) {
	h := newChangeHarness(t)
	h.env.SetStartTime(night)
	spec := h.night()
	spec.Deadline = &timerules.Deadline{DecideBy: "02:00", DoneBy: "03:00", Timezone: "UTC"}
	st, err := h.run(spec)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err), "%v", err)
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, schemas.FieldDeadline, st.FailedStep)
	require.Contains(t, st.Reason, "decideBy Tue 02:00 UTC reached")
	require.False(t, st.Ended.After(utc("2026-06-02T03:00:00Z")), "ended %s", st.Ended)
	h.fleetOn("api", "v1")
	h.fleetOn("web", "v1")
	require.Contains(t, h.log(), "restore")
	require.NotContains(t, h.log(), "contract")
}

// A no-go defers a change before its first step: nothing runs.
func TestNoGoDefersAChange(t *testing.T) {
	h := newChangeHarness(t)
	h.env.SetStartTime(afternoon)
	spec := h.night()
	spec.GoNoGo = &schemas.GoNoGo{Approvers: []string{"client"}, Timeout: schemas.Duration(time.Hour)}
	res := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateGoNoGo, "", res.callbacks(), workflows.GoNoGoRequest{By: "client", Answer: workflows.AnswerNoGo, Reason: "landing testers off sick"})
	}, 10*time.Minute)
	st, err := h.run(spec)
	require.Equal(t, workflows.ErrTypeDeferred, errType(err))
	require.NoError(t, res.rejected)
	require.Equal(t, workflows.PhaseDeferred, st.Phase)
	require.Empty(t, h.log(), "no step ran")
	h.fleetOn("api", "v1")
}
