package workerapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// The worker's secrets, distinctive so that a scan cannot miss them, and one variable
// that is not secret but is none of a hook's business either.
var workerEnv = map[string]string{
	"SLACK_BOT_TOKEN":       "xoxb-" + "4242424242-slack-bot-secret-of-the-worker",
	"AWS_SECRET_ACCESS_KEY": "aws-secret-" + "Q7rT9vX2kLm4Np8Zw3Yb",
	"TEMPORAL_API_KEY":      "temporal-api-key-" + "Hq5Jd8Kf2Lp6Sx",
	"DATABASE_HOST":         "db-internal-host-7f3a9c",
}

// A token of a well-known shape that the hook makes up and prints (the spec holds only
// the shell code that makes it) although no variable holds it.
var (
	printedToken    = "ghp" + "_" + strings.Repeat("R3d4ct", 6)
	printTokenShell = `ghp_$(printf 'R3d4ct%.0s' 1 2 3 4 5 6)`
)

// TestFailingHookLeaksNoSecret releases with a preTraffic hook that prints the worker's
// secret variables and fails. The hook gets a clean environment (the AWS secret only
// because the spec passes it by name), and whatever it prints is redacted: the whole
// workflow history, the worker's log and the Slack thread hold none of the secrets.
func TestFailingHookLeaksNoSecret(t *testing.T) {
	srv := testharness.StartServer(t)
	for name, value := range workerEnv {
		t.Setenv(name, value)
	}
	slack := slacktest.New(t)
	var log testharness.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := memory.New()
	f.Seed("v1", 2)
	testharness.StartWorkerWith(t, srv.Client, workerapp.Options{
		Fleets:   fleet.Registry{schemas.ProviderMemory: f.Factory},
		Notifier: slacknotify.New(slacktest.Token, slacknotify.Options{APIURL: slack.APIURL(), Logger: logger}),
		Logger:   logger,
	})

	seen := filepath.Join(t.TempDir(), "hook-env")
	script := `echo token=$SLACK_BOT_TOKEN aws=$AWS_SECRET_ACCESS_KEY api=$TEMPORAL_API_KEY; env; ` +
		`echo aws-again=$AWS_SECRET_ACCESS_KEY github=` + printTokenShell + `; env > ` + seen + `; exit 1`
	s, err := schemas.Parse(fmt.Appendf(nil, `
service: board
environment: redact
target: {provider: memory, instances: 2}
canary: {instances: 1, soak: 1s, analysis: {interval: 1s}}
drain: {timeout: 5s}
hooks:
  preTraffic:
    - name: smoke
      command:
        args: [sh, -c, %q]
        passEnv: [AWS_SECRET_ACCESS_KEY]
notify: {slack: {channel: "#releases"}}
`, script))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := srv.Client.ExecuteWorkflow(ctx, cli.StartOptions(s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	var st workflows.Status
	err = run.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "the release must roll back: %v", err)
	require.Equal(t, workflows.ErrTypeRolledBack, app.Type())
	require.NoError(t, app.Details(&st))

	// The hook ran, in a clean room: it saw what the spec gave it and nothing else.
	hookEnv, err := os.ReadFile(seen)
	require.NoError(t, err, "the hook never ran")
	require.Contains(t, string(hookEnv), "ZERODOWN_STAGE=preTraffic")
	require.Contains(t, string(hookEnv), "AWS_SECRET_ACCESS_KEY="+workerEnv["AWS_SECRET_ACCESS_KEY"], "passed by name")
	for _, name := range []string{"SLACK_BOT_TOKEN", "TEMPORAL_API_KEY", "DATABASE_HOST"} {
		require.NotContains(t, string(hookEnv), workerEnv[name], "the hook saw the worker's %s", name)
	}

	// What left the worker: the whole history (as JSON, and in its wire form, where
	// payloads are not base64), the status, the worker's log, every Slack message.
	var history bytes.Buffer
	it := srv.Client.GetWorkflowHistory(ctx, s.ID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events++
		j, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(ev)
		require.NoError(t, err)
		wire, err := proto.Marshal(ev)
		require.NoError(t, err)
		history.Write(j)
		history.Write(wire)
	}
	status, err := json.Marshal(st)
	require.NoError(t, err)
	var messages bytes.Buffer
	for _, m := range slack.TopLevel("C0RELEASES") {
		for _, msg := range append([]slacktest.Message{m}, slack.Thread("C0RELEASES", m.TS)...) {
			b, err := json.Marshal(msg)
			require.NoError(t, err)
			messages.Write(b)
		}
	}
	outputs := map[string]string{"history": history.String(), "status": string(status), "log": log.String(), "slack": messages.String()}

	for where, text := range outputs {
		for name, value := range workerEnv {
			requireAbsent(t, text, value, "the %s holds the worker's %s", where, name)
		}
		requireAbsent(t, text, printedToken, "the %s holds the GitHub token the hook printed", where)
	}
	// Not vacuous: the hook's output reached each of them, redacted.
	require.Contains(t, st.Error, "preTraffic hook failed: hook smoke: exit status 1")
	for where, text := range outputs {
		require.True(t, strings.Contains(text, "aws-again=[REDACTED:AWS_SECRET_ACCESS_KEY] github=[REDACTED]"),
			"the hook's output never reached the %s", where)
	}
	t.Logf("scanned %d history events (%d bytes), %d bytes of log, %d bytes of Slack messages",
		events, history.Len(), len(outputs["log"]), messages.Len())
}

// requireAbsent fails when secret is in text, showing where rather than the whole text.
func requireAbsent(t *testing.T, text, secret, format string, args ...any) {
	t.Helper()
	if i := strings.Index(text, secret); i >= 0 {
		t.Fatalf(format+": …%q…", append(args, text[max(0, i-200):min(len(text), i+len(secret)+50)])...)
	}
}
