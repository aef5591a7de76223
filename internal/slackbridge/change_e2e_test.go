package slackbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/slackbridge"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// changeWorld is a Temporal dev server, a worker posting to a fake Slack (slack-go's
// slacktest server, through the real Slack notifier) with two in-memory fleets, api and
// web, and the Slack bridge, which opens its forms on the same fake Slack.
type changeWorld struct {
	c       client.Client
	slack   *slacktest.Server
	fleets  *memory.Fleets
	answers *answers
	url     string
}

func newChangeWorld(t *testing.T) *changeWorld {
	srv := testharness.StartServer(t)
	w := &changeWorld{c: srv.Client, slack: slacktest.New(t), fleets: memory.NewFleets(), answers: newAnswers(t)}
	w.fleets.Fleet("api").Seed("v1", 2)
	w.fleets.Fleet("web").Seed("v1", 2)
	testharness.StartWorkerWith(t, srv.Client, workerapp.Options{
		Fleets:   fleet.Registry{schemas.ProviderMemory: w.fleets.Factory},
		Notifier: slack.New(slacktest.Token, slack.Options{APIURL: w.slack.APIURL(), Logger: slog.New(slog.DiscardHandler)}),
	})
	b, err := slackbridge.New(slackbridge.Config{
		SigningSecret:     secret,
		Users:             map[string]string{"U0CLIENT": "client", "U0MALLORY": "mallory"},
		Temporal:          srv.Client,
		Status:            srv.Client,
		Slack:             slackapi.New(slacktest.Token, slackapi.OptionAPIURL(w.slack.APIURL())),
		ResponseURLPrefix: w.answers.URL,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	web := httptest.NewServer(b)
	t.Cleanup(func() {
		web.Close()
		b.Close(context.Background())
	})
	w.url = web.URL
	return w
}

func nightRelease(t *testing.T, service string) *schemas.Spec {
	s, err := schemas.Parse(fmt.Appendf(nil, `
service: %s
environment: night
target: {provider: memory, instances: 2, memory: {fleet: %s}}
canary: {soak: 1s, analysis: {interval: 1s}}
promote: {batch: 1}
drain: {timeout: 10s}
`, service, service))
	require.NoError(t, err)
	return s
}

// startNight starts a change that releases api then web (each held), then waits for the
// client's landing tests; it tells #releases.
func (w *changeWorld) startNight(ctx context.Context, t *testing.T, name string) client.WorkflowRun {
	return w.startNightVersion(ctx, t, name, "v2")
}

func (w *changeWorld) startNightVersion(ctx context.Context, t *testing.T, name, version string) client.WorkflowRun {
	spec := schemas.ChangeSpec{
		Name: name, Environment: "night",
		Notify: schemas.Notify{Slack: &schemas.SlackNotify{Channel: "#releases"}},
		Steps: []schemas.Step{
			{ID: "api", Release: &schemas.ReleaseStep{File: "api.yaml", Spec: nightRelease(t, "api"), Version: version}},
			{ID: "web", After: []string{"api"}, Release: &schemas.ReleaseStep{File: "web.yaml", Spec: nightRelease(t, "web"), Version: version}},
			{ID: "landing", After: []string{"web"}, Confirm: &schemas.ConfirmStep{
				Prompt: "Landing tests", Approvers: []string{"client"}, Checklist: []string{"orders", "invoices"}, Timeout: schemas.Duration(time.Hour)}},
		},
	}
	require.NoError(t, schemas.ValidateChange(&spec))
	run, err := w.c.ExecuteWorkflow(ctx, cli.ChangeStartOptions(&spec), workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: spec, StartedBy: "dba"})
	require.NoError(t, err)
	return run
}

// thread waits for the change's one parent message in #releases and for the reply that
// asks for the landing confirmation; it returns the parent, the replies, and the value of
// the reply's buttons.
func (w *changeWorld) thread(t *testing.T, change string) (slacktest.Message, []slacktest.Message, string) {
	t.Helper()
	var parent slacktest.Message
	var replies []slacktest.Message
	var value string
	waitFor(t, "the confirm buttons in "+change+"'s thread", func() bool {
		parents := w.parents(change)
		if len(parents) != 1 {
			return false
		}
		parent, replies = parents[0], w.slack.Thread("C0RELEASES", parents[0].TS)
		for _, m := range replies {
			if v := buttonOf(m, slack.ActionConfirm); v != "" {
				value = v
				require.Equal(t, v, buttonOf(m, slack.ActionReject), "Confirm and Reject act on the same step")
			}
		}
		return value != ""
	})
	return parent, replies, value
}

// parents are the top-level messages of #releases that belong to change (by their
// metadata key), or to one of its releases.
func (w *changeWorld) parents(change string) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range w.slack.TopLevel("C0RELEASES") {
		if m.ThreadTS == "" && strings.HasPrefix(fmt.Sprint(m.Metadata.EventPayload["key"]), "change/"+change+"/") {
			out = append(out, m)
		}
	}
	return out
}

func buttonOf(m slacktest.Message, actionID string) string {
	for _, b := range m.Blocks.BlockSet {
		if a, ok := b.(*slackapi.ActionBlock); ok {
			for _, el := range a.Elements.ElementSet {
				if btn, ok := el.(*slackapi.ButtonBlockElement); ok && btn.ActionID == actionID {
					return btn.Value
				}
			}
		}
	}
	return ""
}

// keysOf counts the thread's replies by whose events they are: the key of each reply's
// metadata, without its run.
func keysOf(replies []slacktest.Message) map[string]int {
	out := map[string]int{}
	for _, m := range replies {
		key := fmt.Sprint(m.Metadata.EventPayload["key"])
		out[key[:strings.LastIndex(key, "/")]]++
	}
	return out
}

func (w *changeWorld) press(t *testing.T, action, user, value string) string {
	t.Helper()
	cl := click{user: user, team: "T0TEAM", action: action, value: value, responseURL: w.answers.URL + "/actions/1", channel: "C0RELEASES"}
	require.Equal(t, http.StatusOK, do(t, signed(t, w.url, cl.body(), secret, time.Now())))
	return ephemeralText(t, w.answers.next(t))
}

// submit sends the reject form as Slack does when its Reject button is pressed.
func (w *changeWorld) submit(t *testing.T, user string, form slackapi.ModalViewRequest, reason string) {
	t.Helper()
	require.Equal(t, http.StatusOK, do(t, signed(t, w.url, formBody(user, form.CallbackID, form.PrivateMetadata, reason), secret, time.Now())))
}

// formBody is the submission of a form (a view_submission) as Slack posts it.
func formBody(user, callbackID, metadata, reason string) string {
	payload, _ := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": "T0TEAM"}, "user": map[string]any{"id": user},
		"trigger_id": fmt.Sprintf("1700000200.%d.def", clicks.Add(1)),
		"view": map[string]any{
			"id": "V000001", "type": "modal", "callback_id": callbackID, "private_metadata": metadata,
			"state": map[string]any{"values": map[string]any{"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": reason}}}},
		},
	})
	return url.Values{"payload": {string(payload)}}.Encode()
}

func TestChangeInOneSlackThread(t *testing.T) {
	w := newChangeWorld(t)
	t.Run("confirmed from Slack", func(t *testing.T) { testChangeConfirmedFromSlack(t, w) })
	t.Run("rejected from Slack", func(t *testing.T) { testChangeRejectedFromSlack(t, w) })
}

// A change with two releases and a confirm step is one thread: the change's parent,
// redrawn, and replies from the change and from both releases, none of which opens a
// thread of its own. The Confirm button of the confirm step's reply completes the step
// for an approver, and is refused to anyone else.
func testChangeConfirmedFromSlack(t *testing.T, w *changeWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := w.startNight(ctx, t, "night-ok")
	_, replies, value := w.thread(t, "night-ok")

	keys := keysOf(replies)
	t.Logf("the thread when the confirmation is asked: %d replies, by whose events: %v", len(replies), keys)
	require.Positive(t, keys["change/night-ok"], "the change replies in its thread: %v", keys)
	require.Positive(t, keys["release/api/night"], "the back end replies in the change's thread: %v", keys)
	require.Positive(t, keys["release/web/night"], "the front end replies in the change's thread: %v", keys)
	require.Len(t, keys, 3, "nothing else in the thread: %v", keys)
	var top []string
	for _, m := range w.slack.TopLevel("C0RELEASES") {
		if m.ThreadTS == "" {
			top = append(top, m.Text)
		}
	}
	require.Len(t, top, 1, "one message in the channel, the change's: the releases opened no thread: %q", top)

	require.Contains(t, w.press(t, slack.ActionConfirm, "U0MALLORY", value), ":no_entry: Refused: mallory may not", "not an approver")
	require.Equal(t, ":white_check_mark: change/night-ok: landing confirmed by client (1 of 1).", w.press(t, slack.ActionConfirm, "U0CLIENT", value))

	var st workflows.ChangeStatus
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	landing, _ := st.Step("landing")
	require.Len(t, landing.Confirmations, 1)
	require.Equal(t, "client", landing.Confirmations[0].By, "the mapped identity confirmed, mallory did not")
	require.Equal(t, "from Slack", landing.Confirmations[0].Comment)

	// The parent shows the end once the last notification is out.
	waitFor(t, "the parent redrawn as Succeeded", func() bool {
		p := w.parents("night-ok")
		return len(p) == 1 && p[0].Text == "change night-ok in night: Succeeded" && p[0].Updates > 0
	})
	// A button of a change that is over does nothing.
	require.Equal(t, ":no_entry: Refused: change/night-ok has already finished (Succeeded); this button belongs to a change that is over.",
		w.press(t, slack.ActionConfirm, "U0CLIENT", value))
}

// Reject opens a form asking why; its submission rejects the step with that reason, and
// the whole change rolls back: both fleets are back on v1.
func testChangeRejectedFromSlack(t *testing.T, w *changeWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The first test left both fleets on v2: this night releases v3 over them.
	run := w.startNightVersion(ctx, t, "night-bad", "v3")
	_, _, value := w.thread(t, "night-bad")

	require.Contains(t, w.press(t, slack.ActionReject, "U0STRANGER", value), "is not mapped to a zerodown identity", "an unknown clicker gets no form")
	cl := click{user: "U0CLIENT", team: "T0TEAM", action: slack.ActionReject, value: value, responseURL: w.answers.URL + "/actions/2", channel: "C0RELEASES", threadTS: "1700000000.000001"}
	require.Equal(t, http.StatusOK, do(t, signed(t, w.url, cl.body(), secret, time.Now())))
	var form slacktest.View
	waitFor(t, "the reject form", func() bool {
		views := w.slack.Views()
		if len(views) > 0 {
			form = views[len(views)-1]
		}
		return len(views) > 0
	})
	require.Equal(t, slackbridge.RejectCallbackID, form.View.CallbackID)

	before := len(w.slack.Ephemeral())
	w.submit(t, "U0CLIENT", form.View, "orders show last week's prices")
	waitFor(t, "the answer to the form", func() bool { return len(w.slack.Ephemeral()) > before })
	answer := w.slack.Ephemeral()[before]
	require.Equal(t, "U0CLIENT", answer.User)
	require.Equal(t, "C0RELEASES", answer.Channel)
	require.Equal(t, ":white_check_mark: change/night-bad: landing rejected by client; the change rolls back.", answer.Text)

	var st workflows.ChangeStatus
	err := run.Get(ctx, &st)
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "the change rolled back: %v", err)
	require.NoError(t, app.Details(&st))
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, "step landing failed: rejected by client: orders show last week's prices", st.Reason)
	for _, name := range []string{"api", "web"} {
		fs, err := w.fleets.Fleet(name).Describe(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int{"v2": 2}, fs.ByVersion(), "%s is back on the version before the change", name)
	}
}
