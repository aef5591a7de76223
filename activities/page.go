package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/notify"
)

// ErrTypePageFailed is a page that retrying cannot deliver (no pager configured, a
// refused routing key); it is non-retryable. The workflow records it and goes on.
const ErrTypePageFailed = "PageFailed"

// PageInput is one page: its dedup key makes a retried or repeated page one incident.
type PageInput struct {
	Page notify.Page `json:"page"`
}

// Page pages the people on call with the injected Pager. It is safe to retry: the pager
// deduplicates on the page's DedupKey.
func (a *Activities) Page(ctx context.Context, in PageInput) error {
	if a.Pager == nil {
		return temporal.NewNonRetryableApplicationError("no pager: the worker has no ZERODOWN_PAGERDUTY_ROUTING_KEY", ErrTypePageFailed, nil)
	}
	err := a.Pager.Page(ctx, in.Page)
	switch {
	case err == nil:
		return nil
	case notify.IsPermanent(err):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypePageFailed, err)
	case notify.RetryAfter(err) > 0:
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypePageFailed,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: notify.RetryAfter(err)})
	}
	return err
}
