package workflows

// People in time for a change's confirm steps (confirm.remind). When a confirm step opens
// depends on steps whose length is not known, so `before` cannot be honoured; the rule
// is: a confirm step is expected once every step it waits for has started (the last of
// them is running), and its reminder goes then, or when it opens if it waits for nothing.
// It escalates after escalateAfter without its confirmations.

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
)

// stepRemind is a confirm step's remind block, when the change runs with reminders.
func (c *change) stepRemind(s *stepRun) *schemas.Remind {
	if !c.remindOn || s.spec.Confirm == nil {
		return nil
	}
	return s.spec.Confirm.Remind
}

// remindExpected reminds the people of every waiting confirm step whose dependencies
// have all started: it is the next thing they will be asked.
func (c *change) remindExpected(ctx workflow.Context) {
	for _, s := range c.steps {
		if s.st.State != StepWaiting || len(s.spec.After) == 0 || c.stepRemind(s) == nil || !s.st.RemindedAt.IsZero() {
			continue
		}
		started := true
		for _, id := range s.spec.After {
			if dep := c.step(id); dep == nil || dep.st.State == StepWaiting {
				started = false
				break
			}
		}
		if started {
			c.remindStep(ctx, s, fmt.Sprintf("%s: confirmation expected once %v are done", s.spec.ID, s.spec.After))
		}
	}
}

// remindStep sends a confirm step's reminder, unless it went already.
func (c *change) remindStep(ctx workflow.Context, s *stepRun, msg string) {
	rm := c.stepRemind(s)
	if rm == nil || !s.st.RemindedAt.IsZero() {
		return
	}
	s.st.RemindedAt = workflow.Now(ctx)
	c.tellInTime(ctx, s, timeline.KindReminder, rm.Mention, msg)
}

func (c *change) escalateAfter(s *stepRun) time.Duration {
	if rm := c.stepRemind(s); rm != nil {
		return rm.EscalateAfter.D()
	}
	return 0
}

// escalate tells escalateTo that nobody confirmed the step in time.
func (c *change) escalate(ctx workflow.Context, s *stepRun, waited time.Duration) {
	if !s.st.EscalatedAt.IsZero() {
		return
	}
	s.st.EscalatedAt = workflow.Now(ctx)
	c.tellInTime(ctx, s, timeline.KindEscalated, c.stepRemind(s).EscalateTo, fmt.Sprintf("%s: no confirmation after %s: escalating", s.spec.ID, waited))
}

func (c *change) tellInTime(ctx workflow.Context, s *stepRun, kind timeline.EventKind, to []string, msg string) {
	msg += " (" + people(to) + ")"
	c.record(ctx, kind, "", msg)
	if c.notes != nil {
		ev := c.toldEvent(ctx, kind, "", msg, nil)
		ev.Mentions = slices.Clone(to)
		c.notes.enqueue(ev)
	}
	if c.stepRemind(s).Page {
		key := c.st.ChangeID + "/" + c.firstRunID + "/" + s.spec.ID + "/" + string(kind)
		pageOnce(ctx, key, fmt.Sprintf("zerodown %s: %s", c.st.ChangeID, msg), c.st.ChangeID, kind,
			func(m string) { c.st.PageError = m })
	}
}
