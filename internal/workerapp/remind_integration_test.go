package workerapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"
	"google.golang.org/protobuf/proto"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/notify/pagerduty/pagerdutytest"
	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// A release's after-soak gate reminds its people before the soak ends and escalates when
// nobody approves; the worker that sent the reminder is stopped and another takes over.
// Slack (slacktest) and PagerDuty (pagerdutytest, a stand-in: PagerDuty cannot run here)
// each get the reminder once and the escalation once, and the routing key, which only the
// workers' environment holds, appears in no history, status, log or Slack message.
func TestReminderAndEscalationOnceAcrossAWorkerRestart(t *testing.T) {
	srv := testharness.StartServer(t) // skips under -short
	const routingKey = "pd-routing-key-" + "Zq8Xv3Lm5Tn1"
	pd := pagerdutytest.New(routingKey)
	defer pd.Close()
	t.Setenv(workerapp.PagerDutyURLEnv, pd.URL())
	t.Setenv(workerapp.PagerDutyRoutingKeyEnv, routingKey)
	slack := slacktest.New(t)
	var log testharness.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := memory.New()
	f.Seed("v1", 2)
	opts := workerapp.Options{
		Fleets:   fleet.Registry{schemas.ProviderMemory: f.Factory},
		Notifier: slacknotify.New(slacktest.Token, slacknotify.Options{APIURL: slack.APIURL(), Logger: logger}),
		Logger:   logger,
	}
	_, stopFirst := testharness.StartStoppableWorker(t, srv.Client, opts)

	s, err := schemas.Parse([]byte(`
service: board
environment: remind
target: {provider: memory, instances: 2}
canary:
  instances: 1
  soak: 12s
  analysis: {interval: 1s}
  approval:
    required: true
    approvers: [alice]
    timeout: 5m
    remind: {before: 6s, mention: ["@oncall", "U123"], escalateAfter: 6s, escalateTo: ["S0LEAD"], page: true}
drain: {timeout: 5s}
notify: {slack: {channel: "#releases"}}
`))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := srv.Client.ExecuteWorkflow(ctx, cli.StartOptions(s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	key := s.ID() + "/" + run.GetRunID() + "/" + schemas.GateAfterSoak
	reminderKey, escalationKey := key+"/reminder", key+"/escalated"

	// The reminder goes while the canary soaks; then the worker that sent it stops.
	require.Eventually(t, func() bool { return pd.Count(reminderKey) == 1 }, time.Minute, 50*time.Millisecond, "the reminder's page")
	require.Eventually(t, func() bool { return len(slackWith(slack, "<@U123>")) == 1 }, time.Minute, 50*time.Millisecond, "the reminder in Slack: %q", slackWith(slack, ""))
	require.Zero(t, pd.Count(escalationKey), "not escalated yet when the first worker stops")
	stopFirst()
	testharness.StartWorkerWith(t, srv.Client, opts)

	// Nobody approves: the new worker escalates; then alice approves.
	require.Eventually(t, func() bool { return pd.Count(escalationKey) == 1 }, time.Minute, 50*time.Millisecond, "the escalation's page")
	require.Eventually(t, func() bool { return len(slackWith(slack, "<!subteam^S0LEAD>")) == 1 }, time.Minute, 50*time.Millisecond, "the escalation in Slack")
	require.NoError(t, srv.Client.SignalWorkflow(ctx, s.ID(), "", workflows.UpdateApprove, workflows.ApproveRequest{By: "alice"}))
	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)

	// Once each, everywhere.
	require.Equal(t, 1, pd.Count(reminderKey), "paged for the reminder once")
	require.Equal(t, 1, pd.Count(escalationKey), "paged for the escalation once")
	require.Len(t, pd.Events(), 2)
	reminders, escalations := slackWith(slack, "<@U123>"), slackWith(slack, "<!subteam^S0LEAD>")
	require.Len(t, reminders, 1, "one reminder in Slack")
	require.Len(t, escalations, 1, "one escalation in Slack")
	require.Contains(t, reminders[0], "@oncall <@U123>")
	require.Contains(t, reminders[0], "approval expected")
	require.Contains(t, escalations[0], "escalating")
	require.Len(t, st.Reminders, 2)
	require.Empty(t, st.PageError)

	// The routing key stayed in the workers.
	var history bytes.Buffer
	it := srv.Client.GetWorkflowHistory(ctx, s.ID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		// As JSON, and in its wire form, where payloads are not base64.
		j, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(ev)
		require.NoError(t, err)
		wire, err := proto.Marshal(ev)
		require.NoError(t, err)
		history.Write(j)
		history.Write(wire)
	}
	status, err := json.Marshal(st)
	require.NoError(t, err)
	for where, text := range map[string]string{"history": history.String(), "status": string(status), "log": log.String(), "slack": strings.Join(slackWith(slack, ""), "\n")} {
		require.NotContains(t, text, routingKey, "the %s holds the routing key", where)
	}
	require.Contains(t, history.String(), reminderKey, "the history holds the dedup key, not the routing key")
}

// slackWith is the text of every message of #releases and its threads that contains s,
// each once (a reply broadcast to the channel is listed in both).
func slackWith(slack *slacktest.Server, s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, top := range slack.TopLevel("C0RELEASES") {
		for _, m := range append([]slacktest.Message{top}, slack.Thread("C0RELEASES", top.TS)...) {
			if !seen[m.TS] && strings.Contains(m.Text, s) {
				out = append(out, m.Text)
			}
			seen[m.TS] = true
		}
	}
	return out
}
