package workflows

// The deadline, start-now and extend: at decideBy a release or change that has not
// ended rolls back (or, with ask, gives people until the last moment a rollback still
// ends by doneBy to extend); an approver may start outside the window, or extend.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/timerules"
)

// maxExtension bounds one extension of the deadline.
const maxExtension = 24 * time.Hour

// resolveDeadline fixes decideBy and doneBy for a release or change started at start.
func (k *clock) resolveDeadline(start time.Time) error {
	if k.deadline == nil || !k.st.DecideBy.IsZero() {
		return nil
	}
	decideBy, doneBy, err := k.deadline.Resolve(start)
	if err != nil {
		return err
	}
	k.st.DecideBy, k.st.DoneBy, k.st.OnDeadline = decideBy, doneBy, k.deadline.Action()
	return nil
}

// watchDeadline runs beside the release or change until over says it has ended; at
// decideBy it calls reached with the reason to roll back, unless extended.
func (k *clock) watchDeadline(ctx workflow.Context, rollbackTime time.Duration, over func() bool, reached func(reason string)) {
	if k.st.DecideBy.IsZero() {
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		for !over() {
			decideBy := k.st.DecideBy
			left := decideBy.Sub(workflow.Now(ctx))
			if left > 0 {
				// Wakes early when an extension moves decideBy.
				if _, err := workflow.AwaitWithTimeout(ctx, left, func() bool { return over() || !k.st.DecideBy.Equal(decideBy) }); err != nil {
					return
				}
				continue
			}
			if over() {
				return
			}
			if k.st.OnDeadline == timerules.OnDeadlineAsk && !k.st.Asked {
				k.st.Asked = true
				grace := k.st.DoneBy.Sub(workflow.Now(ctx)) - rollbackTime
				if grace > 0 {
					k.event(ctx, timeline.KindDeadline, "", fmt.Sprintf("decideBy %s reached: extend within %s or it rolls back", k.show(decideBy), grace.Round(time.Second)))
					if _, err := workflow.AwaitWithTimeout(ctx, grace, func() bool { return over() || !k.st.DecideBy.Equal(decideBy) }); err != nil {
						return
					}
					continue
				}
			}
			k.st.DeadlineReached = true
			reason := fmt.Sprintf("decideBy %s reached: rolling back to be done by %s", k.show(decideBy), k.show(k.st.DoneBy))
			k.event(ctx, timeline.KindDeadline, "", reason)
			reached(reason)
			return
		}
	})
}

// show names an instant in the deadline's zone.
func (k *clock) show(t time.Time) string {
	zone := "UTC"
	if k.deadline != nil && k.deadline.Timezone != "" {
		zone = k.deadline.Timezone
	}
	return timerules.OpensText(t, zone)
}

func (k *clock) validateExtend(req ExtendRequest) error {
	if err := k.actor(req.By, req.Reason, "extend the deadline of"); err != nil {
		return err
	}
	if k.st.DecideBy.IsZero() {
		return errors.New("there is no deadline to extend")
	}
	if k.st.DeadlineReached {
		return errors.New("decideBy has passed and the rollback has begun")
	}
	if d := req.Extra.D(); d <= 0 || d > maxExtension {
		return fmt.Errorf("extra: %s; extend by more than 0s and at most %s", d, maxExtension)
	}
	return nil
}

func (k *clock) onExtend(ctx workflow.Context, req ExtendRequest) string {
	d := req.Extra.D()
	k.st.DecideBy, k.st.DoneBy = k.st.DecideBy.Add(d), k.st.DoneBy.Add(d)
	k.st.Asked = false
	k.st.Extensions = append(k.st.Extensions, Extension{By: req.By, Reason: req.Reason, Extra: d, At: workflow.Now(ctx)})
	msg := fmt.Sprintf("deadline extended by %s: decideBy %s, doneBy %s: %s", d, k.show(k.st.DecideBy), k.show(k.st.DoneBy), req.Reason)
	k.event(ctx, timeline.KindExtended, req.By, msg)
	return msg
}

func (k *clock) validateStartNow(req StartNowRequest) error {
	if err := k.actor(req.By, req.Reason, "start outside the window"); err != nil {
		return err
	}
	if len(k.window) == 0 {
		return errors.New("this spec has no window")
	}
	if k.st.StartNowBy != "" {
		return fmt.Errorf("%s already said start now", k.st.StartNowBy)
	}
	return nil
}

func (k *clock) onStartNow(ctx workflow.Context, req StartNowRequest) string {
	k.st.StartNowBy, k.st.StartNowReason = req.By, req.Reason
	k.event(ctx, timeline.KindStartNow, req.By, "start now, outside the window: "+req.Reason)
	return "starting now, outside the window"
}

// actor checks who asks and why, for start-now and extend.
func (k *clock) actor(by, reason, what string) error {
	if err := requireBy(by); err != nil {
		return err
	}
	if err := k.closed(); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("reason is required: say why")
	}
	if len(reason) > maxCommentLen {
		return fmt.Errorf("reason: %d bytes, at most %d", len(reason), maxCommentLen)
	}
	return k.policy.CheckActor(k.id, by, what)
}
