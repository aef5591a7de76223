package workflows

// People in time, shared by releases and changes: a human step expected soon reminds the
// people its spec names, and one nobody answers escalates. Each reminder and escalation
// is recorded in the status before it is told, so replay and continue-as-new never send
// it twice; a page carries a dedup key, so a retried page is one incident.

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/timeline"
)

// maxReminders bounds Status.Reminders (an inconclusive gate may open many times).
const maxReminders = 20

// Reminder is one reminder or escalation a release sent.
type Reminder struct {
	Gate string             `json:"gate"`
	Kind timeline.EventKind `json:"kind"` // timeline.KindReminder or KindEscalated
	At   time.Time          `json:"at"`
	To   []string           `json:"to,omitempty"`
}

// awaitAnswer waits for answered up to timeout (0: no limit). When escalateAfter is set
// and shorter than timeout, it calls escalate once if nobody answered by then, and waits
// on. Without escalation it waits exactly as a gate did before reminders existed.
func awaitAnswer(ctx workflow.Context, timeout, escalateAfter time.Duration, answered func() bool, escalate func()) (bool, error) {
	if escalateAfter <= 0 || (timeout > 0 && escalateAfter >= timeout) {
		if timeout > 0 {
			return workflow.AwaitWithTimeout(ctx, timeout, answered)
		}
		return true, workflow.Await(ctx, answered)
	}
	decided, err := workflow.AwaitWithTimeout(ctx, escalateAfter, answered)
	if err != nil || decided {
		return decided, err
	}
	escalate()
	if timeout > 0 {
		return workflow.AwaitWithTimeout(ctx, timeout-escalateAfter, answered)
	}
	return true, workflow.Await(ctx, answered)
}

// pageOnce pages on a coroutine the workflow's end does not cancel; failed records a
// page that failed after its retries. key is the page's dedup key.
func pageOnce(ctx workflow.Context, key, summary, source string, kind timeline.EventKind, failed func(string)) {
	severity := notify.SeverityWarning
	if kind == timeline.KindEscalated {
		severity = notify.SeverityCritical
	}
	in := activities.PageInput{Page: notify.Page{DedupKey: key, Summary: summary, Source: source, Severity: severity}}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	}
	pctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(pctx, func(ctx workflow.Context) {
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Page, in).Get(ctx, nil); err != nil {
			failed(fmt.Sprintf("%s page %s: %s", kind, key, errorMessage(err)))
			workflow.GetLogger(ctx).Warn("page failed; the workflow goes on", "key", key, "error", err)
		}
	})
}

// people lists mentions for a message.
func people(to []string) string {
	if len(to) == 0 {
		return "nobody named"
	}
	return strings.Join(to, ", ")
}
