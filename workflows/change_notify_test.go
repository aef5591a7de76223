package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// recorder answers every thread-opening request with this thread.
const recordedThread = "slack:C1:1700000000.000100"

// A change with a Slack channel opens one thread; both of its releases post their events
// as replies in it (and never a thread of their own), and the confirm step's request
// carries what its buttons need.
func TestChangeTellsPeopleInOneThreadWithItsReleases(t *testing.T) {
	rec := &recorder{}
	h := newChangeHarnessTelling(t, rec)
	h.confirm("landing", "client", 2*time.Hour, all)
	spec := h.night()
	spec.Notify.Slack = &schemas.SlackNotify{Channel: "#night"}
	st, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Empty(t, st.NotifyError)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.got)
	first := rec.got[0]
	require.Equal(t, "change/night", first.Event.ReleaseID, "the change speaks first: it opens the thread")
	require.Equal(t, timeline.KindStarted, first.Event.Kind)
	require.Equal(t, "#night", first.Channel)
	require.Empty(t, first.Thread)
	require.False(t, first.ReplyOnly)

	releaseKinds := map[string][]timeline.EventKind{}
	var confirm *notify.Confirm
	var last notify.Event
	for _, req := range rec.got[1:] {
		ev := req.Event
		require.Equal(t, recordedThread, req.Thread, "%s %s: every later event goes to the change's thread", ev.ReleaseID, ev.Kind)
		if strings.HasPrefix(ev.ReleaseID, "release/") {
			require.True(t, req.ReplyOnly, "%s %s: a release of the change only replies", ev.ReleaseID, ev.Kind)
			require.Empty(t, req.Channel, "a release of the change opens no thread of its own")
			releaseKinds[ev.ReleaseID] = append(releaseKinds[ev.ReleaseID], ev.Kind)
			continue
		}
		require.Equal(t, "change/night", ev.ReleaseID)
		require.False(t, req.ReplyOnly, "the change redraws its own parent")
		require.NotNil(t, ev.Change, "a change's event carries its steps")
		require.Len(t, ev.Change.Steps, len(spec.Steps))
		if ev.Kind == timeline.KindConfirmAsked {
			confirm = ev.Change.Confirm
		}
		last = ev
	}
	for _, id := range []string{"release/api/prod", "release/web/prod"} {
		require.Contains(t, releaseKinds[id], timeline.KindStarted, id)
		require.Contains(t, releaseKinds[id], timeline.KindCanary, id)
		require.Contains(t, releaseKinds[id], timeline.KindHeld, id)
	}
	require.NotNil(t, confirm, "the confirm step asked people, with what its buttons need")
	require.Equal(t, notify.Confirm{Step: "landing", Approvers: "client", Required: 1, Checklist: []string{"orders", "invoices"},
		Deadline: confirm.Deadline, OnTimeout: schemas.OnTimeoutRollback}, *confirm)
	require.False(t, confirm.Deadline.IsZero())
	require.Equal(t, timeline.KindSucceeded, last.Kind, "the end is told last")
	require.Equal(t, notify.ChangeStep{ID: "api", Kind: "release", State: "finalized", Detail: "release/api/prod v1 -> v2, finalized"}, last.Change.Steps[2])
}

// A rejected change tells the thread why, what it undoes in which order, and how it ended;
// each release's rollback is told in the same thread.
func TestChangeTellsPeopleOfItsRollback(t *testing.T) {
	rec := &recorder{}
	h := newChangeHarnessTelling(t, rec)
	res := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateReject, "", res.callbacks(), workflows.RejectRequest{Step: "landing", By: "client", Reason: "invoices are wrong"})
	}, 2*time.Hour)
	spec := h.night()
	spec.Notify.Slack = &schemas.SlackNotify{Channel: "#night"}
	_, err := h.run(spec)
	require.NoError(t, res.rejected)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var told []string
	var releaseRollbacks []string
	for _, req := range rec.got {
		ev := req.Event
		switch {
		case ev.ReleaseID == "change/night" && ev.Kind != timeline.KindPhase && ev.Kind != timeline.KindStepStarted:
			told = append(told, string(ev.Kind)+": "+ev.Message)
		case strings.HasPrefix(ev.ReleaseID, "release/") && ev.Kind == timeline.KindRolledBack:
			require.True(t, req.ReplyOnly)
			require.Equal(t, recordedThread, req.Thread)
			releaseRollbacks = append(releaseRollbacks, ev.ReleaseID)
		}
	}
	requireInOrder(t, told, []string{
		"rejected: landing rejected: invoices are wrong",
		"rollback: step landing failed: rejected by client: invoices are wrong",
		"undone: web: release/web/prod back on v1",
		"undone: api: release/api/prod back on v1",
	})
	// backup and expand ran side by side: either may have finished first, and is undone last.
	require.Contains(t, told, "undone: expand: undone")
	require.Contains(t, told, "undone: backup: undone")
	require.Contains(t, told[len(told)-1], "RolledBack: change night RolledBack after")
	require.Equal(t, []string{"release/web/prod", "release/api/prod"}, releaseRollbacks, "each release tells its own rollback, in the thread, in reverse order")
	last := rec.got[len(rec.got)-1].Event
	require.Equal(t, timeline.KindRolledBack, last.Kind)
	require.Equal(t, notify.ChangeStep{ID: "web", Kind: "release", State: "rolled-back", Detail: "release/web/prod back on v1"}, last.Change.Steps[4])
}

// requireInOrder checks that got holds every line of want, in want's order.
func requireInOrder(t *testing.T, got, want []string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	require.Equal(t, len(want), i, "missing or out of order: %q\nin %q", want[min(i, len(want)-1)], got)
}
