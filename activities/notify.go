package activities

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/notify"
)

// Error types of Notify. Neither should fail a release: the workflow records the failure
// in the status and goes on.
const (
	// ErrTypeNotifyFailed is a notification that cannot succeed however often it is
	// retried (bad token, unknown channel, missing scope); it is non-retryable.
	ErrTypeNotifyFailed = "NotifyFailed"
	// ErrTypeNotifyRateLimited is retryable after the delay Slack asked for.
	ErrTypeNotifyRateLimited = "NotifyRateLimited"
)

// NotifyInput is one release event to tell people about.
type NotifyInput struct {
	// Channel is the spec's notify.slack.channel; empty posts nothing to Slack.
	Channel string `json:"channel,omitempty"`
	// Thread is what the previous Notify of this release returned; empty the first time.
	Thread string `json:"thread,omitempty"`
	// ReplyOnly replies in Thread without redrawing its parent: a release of a change
	// answering in the change's thread.
	ReplyOnly bool         `json:"replyOnly,omitempty"`
	Event     notify.Event `json:"event"`
}

// NotifyResult names the release's thread: store it and pass it in every later call.
type NotifyResult struct {
	Thread string `json:"thread"`
}

// Notify delivers a release event with the injected notifier. It is safe to retry: the
// notifier is told the attempt, and never posts a message twice (see slack.Notifier).
// Failures are returned so that Temporal retries them; one that retrying cannot cure is
// non-retryable (ErrTypeNotifyFailed), and a rate limit waits as long as Slack asked.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	n := a.Notifier
	if n == nil {
		n = notify.NewLog(nil)
	}
	info := activity.GetInfo(ctx)
	if in.Event.ReleaseID == "" {
		in.Event.ReleaseID = info.WorkflowExecution.ID
	}
	res, err := n.Notify(ctx, notify.Request{Channel: in.Channel, Thread: in.Thread, ReplyOnly: in.ReplyOnly, Attempt: int(info.Attempt), Event: in.Event})
	switch {
	case err == nil:
		return NotifyResult{Thread: res.Thread}, nil
	case notify.IsPermanent(err):
		return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotifyFailed, err)
	case notify.RetryAfter(err) > 0:
		return NotifyResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeNotifyRateLimited,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: notify.RetryAfter(err)})
	}
	return NotifyResult{}, err
}
