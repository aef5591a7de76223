package aws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/zerodown/zerodown/fleet"
)

// A long wait (instances booting, targets passing health checks, targets draining)
// polls AWS for minutes. The SDK retries a throttled or failed call a few times and
// then gives up; a wait must not, or a busy account would roll a release back with a
// message that blames the instances. So a wait retries transient failures itself,
// backing off, until its context ends; only what AWS says about the instances (dead,
// impaired, unhealthy) ends it early.

// maxBackoffFactor is how far a wait backs off from its poll interval while AWS throttles it.
const maxBackoffFactor = 8

// TransientError is an AWS call that failed for a reason the next call may not meet:
// throttling, an error on AWS's side (5xx), a connection that failed.
type TransientError struct {
	// Call is the service and operation, as "EC2 DescribeInstanceStatus".
	Call string
	// Cause is "throttled by", "server error (HTTP 503) from" or "no answer from".
	Cause string
	Err   error
}

func (e *TransientError) Error() string {
	return e.Cause + " " + e.Call + ": " + apiDetail(e.Err)
}

func (e *TransientError) Unwrap() error { return e.Err }

// throttleCodes are the error codes AWS throttles with (RequestLimitExceeded for EC2,
// Throttling and ThrottlingException elsewhere, and the SDK's other known ones).
var throttleCodes = retry.DefaultThrottleErrorCodes

// retryables are the SDK's own checks for a failure worth retrying (5xx, connection
// errors, timeouts), throttles included.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// accessCodes are the errors of credentials that may not make the call: an IAM policy
// to fix, which no retry can.
var accessCodes = map[string]bool{"UnauthorizedOperation": true, "AuthFailure": true, "AccessDenied": true, "AccessDeniedException": true}

// asTransient returns err as a TransientError when a later call may succeed, else nil.
// The caller has checked that its context has not ended: a deadline here is one call's
// (an HTTP timeout), worth another try.
func asTransient(err error) *TransientError {
	if err == nil {
		return nil
	}
	var te *TransientError
	if errors.As(err, &te) {
		return te
	}
	call := "AWS"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		call = oe.ServiceID + " " + oe.OperationName
	}
	var status interface{ HTTPStatusCode() int }
	switch {
	case isThrottle(err):
		return &TransientError{Call: call, Cause: "throttled by", Err: err}
	case errors.As(err, &status) && status.HTTPStatusCode() >= 500:
		return &TransientError{Call: call, Cause: fmt.Sprintf("server error (HTTP %d) from", status.HTTPStatusCode()), Err: err}
	case retryables.IsErrorRetryable(err) == sdkaws.TrueTernary:
		return &TransientError{Call: call, Cause: "no answer from", Err: err}
	}
	return nil
}

func isThrottle(err error) bool {
	_, ok := throttleCodes[apiCode(err)]
	return ok
}

// apiDetail is the useful end of an SDK error: "RequestLimitExceeded: Request limit
// exceeded." rather than the operation, status line and request ID around it.
func apiDetail(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// denied wraps an access error as a configuration error, else returns err.
func denied(err error) error {
	if accessCodes[apiCode(err)] {
		return fmt.Errorf("%w: the worker's credentials may not make this call (see deployments/aws/iam-policy.json): %w", fleet.ErrInvalidConfig, err)
	}
	return err
}

// waitFor polls round until it reports nothing pending. round returns what is still
// pending, in words ("i-0abc initial in web"), or an error: a transient one is retried
// with backoff, any other ends the wait at once. When ctx ends, the error says what was
// still pending — or, if AWS kept failing, why — and wraps ctx's error.
func (f *Fleet) waitFor(ctx context.Context, what string, round func(context.Context) ([]string, error)) error {
	var (
		pending  []string
		last     *TransientError
		failures int
	)
	for {
		got, err := round(ctx)
		var delay time.Duration
		switch te := asTransient(err); {
		case err == nil && len(got) == 0:
			return nil
		case ctx.Err() != nil:
			return ended(what, pending, last, failures, ctx.Err())
		case err == nil:
			pending, last, failures = got, nil, 0
			fleet.Progress(ctx, "waiting for "+what+": "+listed(pending))
			delay = f.poll
		case te != nil:
			last = te
			failures++
			delay = f.backoff(failures)
			fleet.Progress(ctx, fmt.Sprintf("waiting for %s: %v; retrying in %s", what, te, delay.Round(time.Millisecond)))
		default:
			return denied(err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ended(what, pending, last, failures, ctx.Err())
		case <-t.C:
		}
	}
}

// backoff doubles the poll interval with each failure in a row, up to maxBackoffFactor
// times it, with jitter so that many waits throttled together do not retry together.
func (f *Fleet) backoff(failures int) time.Duration {
	d := f.poll * maxBackoffFactor
	if failures < 4 {
		d = min(d, f.poll<<failures)
	}
	return d/2 + rand.N(d/2+1)
}

// ended is the error of a wait whose context ended.
func ended(what string, pending []string, last *TransientError, failures int, ctxErr error) error {
	if last != nil {
		return fmt.Errorf("waiting for %s: %w (%d call(s) in a row failed, retried until the wait ended): %w", what, last, failures, ctxErr)
	}
	if len(pending) > 0 {
		return fmt.Errorf("waiting for %s: %s: %w", what, listed(pending), ctxErr)
	}
	return fmt.Errorf("waiting for %s: %w", what, ctxErr)
}

// listed joins items, naming at most maxNamed of them.
func listed(items []string) string {
	if len(items) <= maxNamed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxNamed)
}
