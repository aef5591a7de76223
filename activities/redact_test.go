//go:build unix

package activities_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/redact"
	"github.com/zerodown/zerodown/schemas"
)

const deploySecret = "hook-needs-this-credential-42"

// A hook given a credential by name, which prints it and fails: the activity's error,
// as the workflow receives it, names the variable and not its value.
func TestInterceptorRedactsAFailingHooksOutput(t *testing.T) {
	t.Setenv("DEPLOY_TOKEN", deploySecret)
	env, _, acts := setup(t)
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{
		activities.NewRedactInterceptor(redact.FromEnviron([]string{"DEPLOY_TOKEN=" + deploySecret})),
	}})
	ids := launched(t, env, acts, 1)
	hook := schemas.Hook{Name: "smoke", Command: &schemas.CommandHook{
		Args:    []string{"sh", "-c", `echo "using $DEPLOY_TOKEN"; exit 1`},
		PassEnv: []string{"DEPLOY_TOKEN"},
	}}
	_, err := env.ExecuteActivity(acts.RunHook, activities.HookInput{Target: target, Hook: hook, Stage: "preTraffic", Version: "v2", IDs: ids})
	require.Error(t, err)
	require.Contains(t, err.Error(), "hook smoke: exit status 1: using [REDACTED:DEPLOY_TOKEN]")
	require.NotContains(t, err.Error(), deploySecret)
}

type leakyResult struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// Whatever an activity returns passes through the interceptor: its error and the strings
// of its result.
func TestInterceptorRedactsErrorsAndResults(t *testing.T) {
	env, _, _ := setup(t)
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{
		activities.NewRedactInterceptor(redact.FromEnviron([]string{"DEPLOY_TOKEN=" + deploySecret})),
	}})
	fails := func(context.Context) error {
		return temporal.NewNonRetryableApplicationError("refused "+deploySecret, activities.ErrTypeHookFailed, nil)
	}
	answers := func(ctx context.Context) (leakyResult, error) {
		activity.RecordHeartbeat(ctx, "waiting with "+deploySecret)
		return leakyResult{Message: "used " + deploySecret, Count: 2}, nil
	}
	var beats []string
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var d string
		require.NoError(t, details.Get(&d))
		beats = append(beats, d)
	})
	env.RegisterActivityWithOptions(fails, activity.RegisterOptions{Name: "Fails"})
	env.RegisterActivityWithOptions(answers, activity.RegisterOptions{Name: "Answers"})

	_, err := env.ExecuteActivity("Fails")
	require.Equal(t, activities.ErrTypeHookFailed, nonRetryableType(err))
	require.ErrorContains(t, err, "refused [REDACTED:DEPLOY_TOKEN]")
	require.NotContains(t, err.Error(), deploySecret)

	v, err := env.ExecuteActivity("Answers")
	require.NoError(t, err)
	var res leakyResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, leakyResult{Message: "used [REDACTED:DEPLOY_TOKEN]", Count: 2}, res)
	require.Equal(t, []string{"waiting with [REDACTED:DEPLOY_TOKEN]"}, beats)
}

func TestRedactErrorKeepsWhatTheWorkflowDecidesOn(t *testing.T) {
	r := redact.New(map[string]string{"SLACK_BOT_TOKEN": "xoxb-the-worker-token"})
	leak := errors.New("slack said invalid_auth for xoxb-the-worker-token")

	// A rate limit: retryable, with the delay Slack asked for, and a cause.
	in := temporal.NewApplicationErrorWithOptions(leak.Error(), activities.ErrTypeNotifyRateLimited,
		temporal.ApplicationErrorOptions{Cause: fmt.Errorf("post: %w", leak), NextRetryDelay: 7 * time.Second,
			Details: []any{"token xoxb-the-worker-token", 3}, Category: temporal.ApplicationErrorCategoryBenign})
	out := activities.RedactError(r, in)
	var app *temporal.ApplicationError
	require.True(t, errors.As(out, &app))
	require.Equal(t, "slack said invalid_auth for [REDACTED:SLACK_BOT_TOKEN]", app.Message())
	require.Equal(t, activities.ErrTypeNotifyRateLimited, app.Type())
	require.False(t, app.NonRetryable())
	require.Equal(t, 7*time.Second, app.NextRetryDelay())
	require.Equal(t, temporal.ApplicationErrorCategoryBenign, app.Category())
	var detail string
	var n int
	require.NoError(t, app.Details(&detail, &n))
	require.Equal(t, "token [REDACTED:SLACK_BOT_TOKEN]", detail)
	require.Equal(t, 3, n)
	// Temporal records every cause: each is redacted, and keeps its Go type's name.
	var cause *temporal.ApplicationError
	require.True(t, errors.As(app.Unwrap(), &cause))
	require.Equal(t, "post: slack said invalid_auth for [REDACTED:SLACK_BOT_TOKEN]", cause.Message())
	require.Equal(t, "wrapError", cause.Type())
	require.NotContains(t, fmt.Sprintf("%v", out), "xoxb-the-worker-token")

	// Non-retryable stays non-retryable.
	out = activities.RedactError(r, temporal.NewNonRetryableApplicationError(leak.Error(), activities.ErrTypeHookFailed, leak))
	require.True(t, errors.As(out, &app))
	require.True(t, app.NonRetryable())
	require.Equal(t, activities.ErrTypeHookFailed, app.Type())
	require.NotContains(t, out.Error(), "xoxb-the-worker-token")

	// A plain error becomes what Temporal would have recorded: retryable, its type's name.
	out = activities.RedactError(r, leak)
	require.True(t, errors.As(out, &app))
	require.False(t, app.NonRetryable())
	require.Equal(t, "", app.Type(), "errors.New is recorded without a type")
	require.NotContains(t, out.Error(), "xoxb-the-worker-token")

	// Nothing to redact: the very same error, so nothing changes for the workflow.
	clean := temporal.NewNonRetryableApplicationError("canary unhealthy", activities.ErrTypeUnhealthy, nil)
	require.Same(t, clean, activities.RedactError(r, clean))

	// A cancellation stays one.
	out = activities.RedactError(r, fmt.Errorf("hook xoxb-the-worker-token: %w", context.Canceled))
	require.ErrorIs(t, out, context.Canceled)
	require.NotContains(t, out.Error(), "xoxb-the-worker-token")
}
