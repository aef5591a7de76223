package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/redact"
)

// NewRedactInterceptor returns a worker interceptor that passes everything an activity
// sends out through r before it leaves the worker: the error (its message and the
// messages of its causes), the strings of the result and of heartbeat details. Activity errors become status.error, the
// timeline, the history, the worker's log and Slack, so none of these sees a secret the
// redactor knows. An error keeps its type, its retryability, its next retry delay and
// its category, so the workflow decides exactly as before; an error with nothing to
// redact is returned as it is. Activities also find r in their context (RunHook redacts
// a hook's output before it cuts it, so that no secret is cut in half).
func NewRedactInterceptor(r *redact.Redactor) interceptor.WorkerInterceptor {
	return &redactWorker{r: r}
}

type redactWorker struct {
	interceptor.WorkerInterceptorBase
	r *redact.Redactor
}

func (w *redactWorker) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &redactInbound{r: w.r}
	i.Next = next
	return i
}

type redactInbound struct {
	interceptor.ActivityInboundInterceptorBase
	r *redact.Redactor
}

func (i *redactInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	o := &redactOutbound{r: i.r}
	o.Next = outbound
	return i.Next.Init(o)
}

func (i *redactInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := i.Next.ExecuteActivity(context.WithValue(ctx, redactorKey{}, i.r), in)
	return i.r.Value(out), RedactError(i.r, err)
}

// redactOutbound redacts heartbeat details: the server shows them (describe) and records
// them in the history when the activity times out.
type redactOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	r *redact.Redactor
}

func (o *redactOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	red := make([]any, len(details))
	for i, d := range details {
		red[i] = o.r.Value(d)
	}
	o.Next.RecordHeartbeat(ctx, red...)
}

type redactorKey struct{}

// redactorFrom is the redactor the interceptor put in ctx; nil (which redacts nothing)
// when the activity runs without it (unit tests).
func redactorFrom(ctx context.Context) *redact.Redactor {
	r, _ := ctx.Value(redactorKey{}).(*redact.Redactor)
	return r
}

// maxCauses bounds how deep RedactError follows an error's causes.
const maxCauses = 16

// RedactError returns err with every message Temporal would record redacted by r: an
// ApplicationError is rebuilt with the same type, retryability, next retry delay,
// category and (redacted) details; any other error becomes the ApplicationError Temporal
// would have recorded for it (its Go type's name, retryable); causes are redacted the
// same way. Cancellations are returned as they are: Temporal records no message for
// them. err is returned itself when nothing in it needed redacting.
func RedactError(r *redact.Redactor, err error) error {
	red, _ := redactError(r, err, 0)
	return red
}

// redactError returns the redacted err and whether it differs from err.
func redactError(r *redact.Redactor, err error, depth int) (error, bool) {
	if r == nil || err == nil || depth > maxCauses {
		return err, false
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return err, false
	}
	app, ok := err.(*temporal.ApplicationError)
	if !ok {
		// Temporal records a plain error as its message, its Go type's name and, as the
		// cause, what it wraps.
		msg := r.String(err.Error())
		cause, causeChanged := redactError(r, errors.Unwrap(err), depth+1)
		if msg == err.Error() && !causeChanged {
			return err, false
		}
		if errors.Is(err, context.Canceled) {
			// Still a cancellation for the SDK, when the activity was cancelled.
			return fmt.Errorf("%s: %w", msg, context.Canceled), true
		}
		return temporal.NewApplicationErrorWithOptions(msg, goErrorType(err), temporal.ApplicationErrorOptions{Cause: cause}), true
	}
	msg := r.String(app.Message())
	cause, causeChanged := redactError(r, app.Unwrap(), depth+1)
	details, detailsChanged := redactDetails(r, app)
	if msg == app.Message() && !causeChanged && !detailsChanged {
		return err, false
	}
	return temporal.NewApplicationErrorWithOptions(msg, app.Type(), temporal.ApplicationErrorOptions{
		NonRetryable:   app.NonRetryable(),
		Cause:          cause,
		Details:        details,
		NextRetryDelay: app.NextRetryDelay(),
		Category:       app.Category(),
	}), true
}

// maxDetails bounds how many details of an error are read back.
const maxDetails = 16

// redactDetails reads the details of app back (an activity's are Go values) and redacts
// their strings.
func redactDetails(r *redact.Redactor, app *temporal.ApplicationError) ([]any, bool) {
	if !app.HasDetails() {
		return nil, false
	}
	var values []any
	for n := 1; n <= maxDetails; n++ {
		ptrs := make([]any, n)
		got := make([]any, n)
		for i := range got {
			ptrs[i] = &got[i]
		}
		if app.Details(ptrs...) != nil {
			break
		}
		values = got
	}
	changed := false
	for i, v := range values {
		red := r.Value(v)
		if !reflect.DeepEqual(red, v) {
			values[i], changed = red, true
		}
	}
	return values, changed
}

// goErrorType is the type Temporal records for a plain Go error: its type's name, ""
// for errors.New.
func goErrorType(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(errors.New("")).Elem() {
		return ""
	}
	return t.Name()
}
