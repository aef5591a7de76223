package demo

// 004's night on a clock scaled down to the demo: the window is open now, decideBy comes
// a minute or so after the start and doneBy a minute after that, where the real night
// has 01:30 to 05:00, 06:00 and 07:00.

import (
	"cmp"
	"time"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/timerules"
	"github.com/zerodown/zerodown/workflows"
)

// lateDoneAfter is doneBy - decideBy in the scaled night: the hour 004's team had for a
// rollback, as a minute.
const lateDoneAfter = time.Minute

func (cw *changeWorld) nightClock(spec *schemas.ChangeSpec) {
	now := time.Now().UTC()
	decideBy := now.Add(cmp.Or(cw.opts.LateDecideBy, 75*time.Second)).Truncate(time.Second)
	// Open from this minute for an hour, today: times of day, as a real window.
	spec.Window = []timerules.Window{{
		Days: []string{shortDay(now.Weekday())}, From: now.Format("15:04"), Until: now.Add(time.Hour).Format("15:04"), Timezone: "UTC",
	}}
	spec.Deadline = &timerules.Deadline{
		DecideBy: decideBy.Format(time.RFC3339), DoneBy: decideBy.Add(lateDoneAfter).Format(time.RFC3339),
		OnDeadline: timerules.OnDeadlineRollback,
	}
	cw.Say("night clock: window %s-%s UTC (004's 01:30-05:00), decideBy %s, doneBy %s (06:00 and 07:00)",
		spec.Window[0].From, spec.Window[0].Until, decideBy.Local().Format("15:04:05"), decideBy.Add(lateDoneAfter).Local().Format("15:04:05"))
}

// deadlineReached is when the change's decideBy rolled it back.
func deadlineReached(st workflows.ChangeStatus) time.Time {
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindDeadline {
			return e.Time
		}
	}
	return time.Time{}
}

func shortDay(d time.Weekday) string {
	return [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[d]
}
