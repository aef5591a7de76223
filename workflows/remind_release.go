package workflows

// People in time for a release's gates (canary.approval.remind): the after-soak gate is
// foreseen, so its reminder goes `before` the soak ends; every gate reminds when it opens
// if it has not yet, and escalates after escalateAfter without its approvals.

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
)

// remindSpec is the gates' remind block, when this release runs with reminders.
func (r *release) remindSpec() *schemas.Remind {
	if !r.v.remind || !r.spec.Canary.Approval.Required {
		return nil
	}
	return r.spec.Canary.Approval.Remind
}

// reminded reports whether the release sent kind for gate already (this run or before).
func (r *release) reminded(gate string, kind timeline.EventKind) bool {
	return slices.ContainsFunc(r.st.Status.Reminders, func(m Reminder) bool { return m.Gate == gate && m.Kind == kind })
}

// watchSoakReminder reminds the after-soak gate's people `before` the soak ends. The
// soak's end moves (a pause, a late timer): the watch wakes at the reminder's due time,
// recomputes it from the soak's clock, and sends when it has come. Once the soak is over
// the gate itself reminds, if this did not.
func (r *release) watchSoakReminder(ctx workflow.Context) {
	rm := r.remindSpec()
	if rm == nil || rm.Before <= 0 || !r.spec.Canary.Approval.HasGate(schemas.GateAfterSoak) || r.reminded(schemas.GateAfterSoak, timeline.KindReminder) {
		return
	}
	before := rm.Before.D()
	workflow.Go(ctx, func(ctx workflow.Context) {
		for !r.reminded(schemas.GateAfterSoak, timeline.KindReminder) && !r.pastSoak() {
			end := r.st.Status.SoakEndsAt
			if r.st.Status.Phase != PhaseSoaking || end.IsZero() {
				// Not soaking yet, or paused: wait for the soak's clock.
				if err := workflow.Await(ctx, func() bool {
					return r.pastSoak() || (r.st.Status.Phase == PhaseSoaking && !r.st.Status.SoakEndsAt.IsZero())
				}); err != nil {
					return
				}
				continue
			}
			if left := end.Add(-before).Sub(workflow.Now(ctx)); left > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, left, r.pastSoak); err != nil {
					return
				}
				continue
			}
			r.remind(ctx, schemas.GateAfterSoak, fmt.Sprintf("%s: approval expected in %s, when the soak ends (%s)",
				schemas.GateAfterSoak, max(0, end.Sub(workflow.Now(ctx))).Round(time.Second), end.UTC().Format("15:04 MST")))
			return
		}
	})
}

// pastSoak reports whether the release is beyond its soak (or ended).
func (r *release) pastSoak() bool {
	switch r.st.Status.Phase {
	case PhasePlanning, PhaseWaiting, PhaseBaking, PhaseCanary, PhaseSoaking:
		return false
	}
	return true
}

// remindAtOpen reminds a gate's people when it opens, unless they were reminded of it
// ahead (only the after-soak gate is foreseen, and it opens once).
func (r *release) remindAtOpen(ctx workflow.Context, p *PendingApproval) {
	if r.remindSpec() == nil {
		return
	}
	if p.Gate == schemas.GateAfterSoak && r.reminded(p.Gate, timeline.KindReminder) {
		p.RemindedAt = r.sentAt(p.Gate, timeline.KindReminder)
		return
	}
	r.remind(ctx, p.Gate, fmt.Sprintf("%s: waiting for approval now", p.Gate))
}

func (r *release) sentAt(gate string, kind timeline.EventKind) time.Time {
	for _, m := range r.st.Status.Reminders {
		if m.Gate == gate && m.Kind == kind {
			return m.At
		}
	}
	return time.Time{}
}

// escalateAfter is how long a gate waits for its approvals before it escalates; 0 never.
func (r *release) escalateAfter() time.Duration {
	if rm := r.remindSpec(); rm != nil {
		return rm.EscalateAfter.D()
	}
	return 0
}

// remind sends the reminder of gate: recorded first, then told, then paged.
func (r *release) remind(ctx workflow.Context, gate, msg string) {
	r.tellInTime(ctx, gate, timeline.KindReminder, r.remindSpec().Mention, msg)
}

// escalate tells escalateTo that nobody approved gate in time.
func (r *release) escalate(ctx workflow.Context, gate string, waited time.Duration) {
	rm := r.remindSpec()
	r.tellInTime(ctx, gate, timeline.KindEscalated, rm.EscalateTo, fmt.Sprintf("%s: no approval after %s: escalating", gate, waited))
}

func (r *release) tellInTime(ctx workflow.Context, gate string, kind timeline.EventKind, to []string, msg string) {
	now := workflow.Now(ctx)
	r.st.Status.Reminders = append(r.st.Status.Reminders, Reminder{Gate: gate, Kind: kind, At: now, To: slices.Clone(to)})
	if len(r.st.Status.Reminders) > maxReminders {
		r.st.Status.Reminders = r.st.Status.Reminders[len(r.st.Status.Reminders)-maxReminders:]
	}
	if p := r.st.Status.PendingApproval; p != nil && p.Gate == gate {
		if kind == timeline.KindReminder {
			p.RemindedAt = now
		} else {
			p.EscalatedAt = now
		}
	}
	msg += " (" + people(to) + ")"
	r.record(ctx, kind, "", msg)
	if r.notes != nil && r.notes.enabled {
		ev := r.notifyEvent(ctx, kind, "", msg)
		ev.Mentions = slices.Clone(to)
		r.notes.enqueue(ev)
	}
	if r.remindSpec().Page {
		// The release's key (workflow ID and first run ID): a later release of the same
		// service and environment is a new incident, this one's retries are not.
		key := r.st.Key + "/" + gate + "/" + string(kind)
		pageOnce(ctx, key, fmt.Sprintf("zerodown %s %s: %s", r.st.Status.ReleaseID, r.in.Version, msg), r.st.Status.ReleaseID, kind,
			func(m string) { r.st.Status.PageError = m })
	}
}
