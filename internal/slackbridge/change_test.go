package slackbridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/internal/slackbridge"
	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/workflows"
)

// fakeChanges answers the status query with a change as told.
type fakeChanges struct {
	status workflows.ChangeStatus
	err    error
}

func (f *fakeChanges) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	if f.err != nil {
		return nil, f.err
	}
	return encoded{f.status}, nil
}

type encoded struct{ v any }

func (encoded) HasValue() bool { return true }
func (e encoded) Get(ptr any) error {
	b, err := json.Marshal(e.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// night is a change whose landing step waits for people.
func night() workflows.ChangeStatus {
	return workflows.ChangeStatus{ChangeID: "change/night", Name: "night", Phase: workflows.PhaseRunning, Steps: []workflows.StepStatus{
		{ID: "api-sanity", Kind: "check", State: workflows.StepDone},
		{ID: "landing", Kind: "confirm", State: workflows.StepRunning, Checklist: []string{"orders", "invoices"}, Required: 1},
		{ID: "sign-off", Kind: "confirm", State: workflows.StepWaiting},
	}}
}

func changeButton(step string) string {
	return slacknotify.ChangeActionValue{ChangeID: "change/night", FirstRunID: "run-1", Step: step}.Encode()
}

// Confirm becomes the confirm update of the change's run, by the mapped identity, with
// every checklist item of the step answered fine.
func TestConfirmClickConfirms(t *testing.T) {
	e := newEnv(t, slackbridge.Config{Status: &fakeChanges{status: night()}})
	e.temporal.result = "landing confirmed by alice (1 of 1)"
	c := e.click(slacknotify.ActionConfirm, "U0ALICE")
	c.value = changeButton("landing")
	require.Equal(t, http.StatusOK, do(t, signed(t, e.url, c.body(), secret, time.Now())))
	require.Equal(t, ":white_check_mark: change/night: landing confirmed by alice (1 of 1).", ephemeralText(t, e.answers.next(t)))
	sent := e.temporal.updates()
	require.Len(t, sent, 1)
	require.Equal(t, "change/night", sent[0].WorkflowID)
	require.Equal(t, "run-1", sent[0].FirstExecutionRunID, "the button acts on its own run of the change only")
	require.Equal(t, workflows.UpdateConfirm, sent[0].UpdateName)
	require.Equal(t, []any{workflows.ConfirmRequest{Step: "landing", By: "alice", Checklist: map[string]bool{"orders": true, "invoices": true}, Comment: "from Slack"}}, sent[0].Args)
}

// Clicks that cannot be a live zerodown button of a waiting confirm step are refused with
// the reason, and nothing is sent to the change.
func TestHostileChangeClicksAreRefused(t *testing.T) {
	changes := &fakeChanges{}
	e := newEnv(t, slackbridge.Config{Status: changes})
	press := func(action, user, value string) string {
		t.Helper()
		c := e.click(action, user)
		c.value = value
		require.Equal(t, http.StatusOK, do(t, signed(t, e.url, c.body(), secret, time.Now())))
		return ephemeralText(t, e.answers.next(t))
	}
	finished := night()
	finished.Phase = workflows.PhaseSucceeded
	cases := []struct {
		name, action, user, value string
		status                    workflows.ChangeStatus
		err                       error
		want                      string
	}{
		{"not a value", slacknotify.ActionConfirm, "U0ALICE", "confirm please", night(), nil, ":no_entry: Refused: not a zerodown change button value."},
		{"a release's value", slacknotify.ActionConfirm, "U0ALICE", buttonValue("release/board/prod", "run-1"), night(), nil, ":no_entry: Refused: not a zerodown change button value."},
		{"a release named as change", slacknotify.ActionReject, "U0ALICE", `{"change":"release/board/prod","step":"landing"}`, night(), nil, ":no_entry: Refused: the button names no change."},
		{"a forged step", slacknotify.ActionConfirm, "U0ALICE", `{"change":"change/night","step":"Landing; rm -rf"}`, night(), nil, ":no_entry: Refused: the button names no step."},
		{"oversized", slacknotify.ActionConfirm, "U0ALICE", `{"change":"change/night","step":"landing","firstRunId":"` + strings.Repeat("x", 3000) + `"}`, night(), nil,
			":no_entry: Refused: the button's value is 3058 bytes, at most 2000."},
		{"unknown change", slacknotify.ActionConfirm, "U0ALICE", changeButton("landing"), night(), serviceerror.NewNotFound("no such workflow"), ":no_entry: Refused: there is no change change/night."},
		{"unknown step", slacknotify.ActionConfirm, "U0ALICE", changeButton("nope"), night(), nil, ":no_entry: Refused: change/night has no step nope."},
		{"not a confirm step", slacknotify.ActionConfirm, "U0ALICE", changeButton("api-sanity"), night(), nil, ":no_entry: Refused: step api-sanity of change/night is a check step, not a confirm step."},
		{"a step not asking yet", slacknotify.ActionReject, "U0ALICE", changeButton("sign-off"), night(), nil, ":no_entry: Refused: step sign-off of change/night is not waiting for a confirmation (waiting)."},
		{"a change that is over", slacknotify.ActionConfirm, "U0ALICE", changeButton("landing"), finished, nil,
			":no_entry: Refused: change/night has already finished (Succeeded); this button belongs to a change that is over."},
		{"an unmapped clicker", slacknotify.ActionConfirm, "U0STRANGER", changeButton("landing"), night(), nil,
			":no_entry: Refused: your Slack account (U0STRANGER) is not mapped to a zerodown identity, so you cannot confirm changes from Slack. Ask whoever runs the zerodown Slack bridge to add you to its users."},
		{"reject without a form to ask why", slacknotify.ActionReject, "U0ALICE", changeButton("landing"), night(), nil,
			`:no_entry: A rejection needs a reason, and this bridge cannot open a form to ask for it (it has no bot token): run zerodown change reject night landing --reason "…"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changes.status, changes.err = tc.status, tc.err
			require.Equal(t, tc.want, press(tc.action, tc.user, tc.value))
		})
	}
	require.Empty(t, e.temporal.updates(), "none of these reached the change")
}

// A submitted reject form is refused without a reason or with forged metadata; nothing
// reaches the change.
func TestRejectFormRefusals(t *testing.T) {
	srv := slacktest.New(t)
	api := slack.New(slacktest.Token, slack.OptionAPIURL(srv.APIURL()))
	e := newEnv(t, slackbridge.Config{Status: &fakeChanges{status: night()}, Slack: api})
	c := e.click(slacknotify.ActionReject, "U0ALICE")
	c.value = changeButton("landing")
	require.Equal(t, http.StatusOK, do(t, signed(t, e.url, c.body(), secret, time.Now())))
	waitFor(t, "the reject form", func() bool { return len(srv.Views()) == 1 })
	form := srv.Views()[0].View
	require.Equal(t, slackbridge.RejectCallbackID, form.CallbackID)

	submit := func(user, metadata, reason string) {
		t.Helper()
		require.Equal(t, http.StatusOK, do(t, signed(t, e.url, formBody(user, form.CallbackID, metadata, reason), secret, time.Now())))
	}
	submit("U0ALICE", form.PrivateMetadata, "   ")
	submit("U0STRANGER", form.PrivateMetadata, "prices are wrong")
	submit("U0ALICE", `{"value":"{\"change\":\"change/night\",\"step\":\"../etc\"}","channel":"C0RELEASES"}`, "prices are wrong")
	submit("U0ALICE", "not json", "prices are wrong") // nowhere to answer: only logged
	e.bridge.Close(context.Background())

	var texts []string
	for _, m := range srv.Ephemeral() {
		require.Equal(t, "C0RELEASES", m.Channel)
		texts = append(texts, m.Text)
	}
	require.ElementsMatch(t, []string{
		":no_entry: Refused: a rejection needs a reason: say what is wrong.",
		":no_entry: Refused: your Slack account (U0STRANGER) is not mapped to a zerodown identity, so you cannot reject changes from Slack. Ask whoever runs the zerodown Slack bridge to add you to its users.",
		":no_entry: Refused: the button names no step.",
	}, texts)
	require.Empty(t, e.temporal.updates(), "none of these reached the change")
}
