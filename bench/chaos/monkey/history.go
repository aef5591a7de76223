package monkey

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// writeHistory writes the release's history, every run of its chain, one event a line
// with the time since the previous one, to path (where to look when a release went
// wrong). It returns its longest stall that no workflow timer explains, and its
// progress: when each workflow task and each activity completed.
func writeHistory(ctx context.Context, c client.Client, id, runID, path string) (stall time.Duration, stallAt string, done []progress, err error) {
	var b strings.Builder
	var prev *historypb.HistoryEvent
	activity := map[int64]string{} // scheduled event id -> activity type
	for runID != "" {
		fmt.Fprintf(&b, "run %s\n", runID)
		next := ""
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return stall, stallAt, done, err
			}
			at := ev.GetEventTime().AsTime()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				activity[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				done = append(done, progress{At: at, Activity: activity[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]})
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				done = append(done, progress{At: at})
			}
			var gap time.Duration
			if prev != nil {
				gap = ev.GetEventTime().AsTime().Sub(prev.GetEventTime().AsTime())
				if gap > stall && ev.GetEventType() != enumspb.EVENT_TYPE_TIMER_FIRED {
					stall, stallAt = gap, fmt.Sprintf("%s → %s", describe(prev), describe(ev))
				}
			}
			mark := ""
			if gap >= 5*time.Second {
				mark = "   <-- gap"
			}
			fmt.Fprintf(&b, "%5d %s +%-8s %s%s\n", ev.GetEventId(), ev.GetEventTime().AsTime().Format("15:04:05.000"),
				gap.Round(time.Millisecond), describe(ev), mark)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
			prev = ev
		}
		runID = next
	}
	return stall, stallAt, done, os.WriteFile(path, []byte(b.String()), 0o644)
}

// progress is a step a worker completed: an activity, or a workflow task ("" activity).
type progress struct {
	At       time.Time
	Activity string
}

// resumedAfter is how long after a kill at the release got going again with the new
// worker (started at revived): the activity the dead worker was running completed, or,
// when it ran none, the new worker completed a workflow task.
func resumedAfter(done []progress, at, revived time.Time, activity string) time.Duration {
	for _, p := range done {
		if p.At.After(revived) && p.Activity == activity {
			return p.At.Sub(at)
		}
	}
	return 0
}

// describe names an event and, for activities and timers, what it is about.
func describe(ev *historypb.HistoryEvent) string {
	s := strings.TrimPrefix(ev.GetEventType().String(), "EventType")
	switch {
	case ev.GetActivityTaskScheduledEventAttributes() != nil:
		s += " " + ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
	case ev.GetActivityTaskStartedEventAttributes() != nil:
		a := ev.GetActivityTaskStartedEventAttributes()
		s += fmt.Sprintf(" (scheduled %d, attempt %d)", a.GetScheduledEventId(), a.GetAttempt())
	case ev.GetActivityTaskCompletedEventAttributes() != nil:
		s += fmt.Sprintf(" (scheduled %d)", ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
	case ev.GetActivityTaskFailedEventAttributes() != nil:
		a := ev.GetActivityTaskFailedEventAttributes()
		s += fmt.Sprintf(" (scheduled %d): %s", a.GetScheduledEventId(), a.GetFailure().GetMessage())
	case ev.GetActivityTaskTimedOutEventAttributes() != nil:
		s += fmt.Sprintf(" (scheduled %d)", ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId())
	case ev.GetTimerStartedEventAttributes() != nil:
		s += " " + ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration().String()
	case ev.GetWorkflowTaskTimedOutEventAttributes() != nil:
		s += " " + ev.GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType().String()
	}
	return s
}
