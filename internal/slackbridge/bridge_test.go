package slackbridge_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/internal/slackbridge"
	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/notify/slack/slacktest"
	"github.com/zerodown/zerodown/workflows"
)

// fakeTemporal records updates and answers them as told.
type fakeTemporal struct {
	mu     sync.Mutex
	sent   []client.UpdateWorkflowOptions
	result string
	err    error
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, o)
	return handle{result: f.result, err: f.err}, nil
}

func (f *fakeTemporal) updates() []client.UpdateWorkflowOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.UpdateWorkflowOptions(nil), f.sent...)
}

type handle struct {
	result string
	err    error
}

func (handle) WorkflowID() string { return "release/board/prod" }
func (handle) RunID() string      { return "run-1" }
func (handle) UpdateID() string   { return "u" }
func (h handle) Get(_ context.Context, ptr any) error {
	if h.err != nil {
		return h.err
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(h.result)
	if err != nil {
		return err
	}
	return converter.GetDefaultDataConverter().FromPayload(p, ptr)
}

type env struct {
	url      string
	temporal *fakeTemporal
	answers  *answers
	bridge   *slackbridge.Bridge
}

func newEnv(t *testing.T, cfg slackbridge.Config) *env {
	e := &env{temporal: &fakeTemporal{result: "approved by alice"}, answers: newAnswers(t)}
	cfg.SigningSecret = secret
	if cfg.Users == nil {
		cfg.Users = map[string]string{"U0ALICE": "alice", "U0MALLORY": "mallory"}
	}
	cfg.Temporal = e.temporal
	cfg.ResponseURLPrefix = e.answers.URL
	cfg.Logger = slog.New(slog.DiscardHandler)
	b, err := slackbridge.New(cfg)
	require.NoError(t, err)
	e.bridge = b
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		b.Close(context.Background())
	})
	e.url = srv.URL + "/slack/actions"
	return e
}

func (e *env) click(action, user string) click {
	return click{user: user, team: "T0TEAM", action: action, value: buttonValue("release/board/prod", "run-1"),
		responseURL: e.answers.URL + "/actions/T0TEAM/1/abc", channel: "C0RELEASES"}
}

// A signed click on Approve becomes the approve update, by the mapped identity, and the
// clicker is told the outcome.
func TestSignedClickApproves(t *testing.T) {
	e := newEnv(t, slackbridge.Config{})
	require.Equal(t, http.StatusOK, do(t, signed(t, e.url, e.click(slacknotify.ActionApprove, "U0ALICE").body(), secret, time.Now())))
	require.Equal(t, ":white_check_mark: release/board/prod: approved by alice.", ephemeralText(t, e.answers.next(t)))

	sent := e.temporal.updates()
	require.Len(t, sent, 1)
	u := sent[0]
	require.Equal(t, "release/board/prod", u.WorkflowID)
	require.Equal(t, "run-1", u.FirstExecutionRunID, "the button acts on its own release only")
	require.Equal(t, workflows.UpdateApprove, u.UpdateName)
	require.Equal(t, []any{workflows.ApproveRequest{By: "alice", Comment: "from Slack"}}, u.Args, "the identity comes from the bridge's map, not from the payload")
	require.True(t, strings.HasPrefix(u.UpdateID, "slack-"))
	require.Equal(t, client.WorkflowUpdateStageCompleted, u.WaitForStage)

	e.temporal.result = "aborted by alice; rolling back"
	do(t, signed(t, e.url, e.click(slacknotify.ActionAbort, "U0ALICE").body(), secret, time.Now()))
	require.Contains(t, ephemeralText(t, e.answers.next(t)), "aborted by alice; rolling back")
	e.temporal.result = "promoted by alice"
	do(t, signed(t, e.url, e.click(slacknotify.ActionPromote, "U0ALICE").body(), secret, time.Now()))
	require.Contains(t, ephemeralText(t, e.answers.next(t)), "promoted by alice")
	sent = e.temporal.updates()
	require.Equal(t, workflows.UpdateAbort, sent[1].UpdateName)
	require.Equal(t, []any{workflows.AbortRequest{By: "alice", Reason: "aborted from Slack"}}, sent[1].Args)
	require.Equal(t, workflows.UpdatePromote, sent[2].UpdateName)
	require.Equal(t, []any{workflows.ActorRequest{By: "alice"}}, sent[2].Args)
	require.NotEqual(t, sent[1].UpdateID, sent[2].UpdateID)
}

// Every signature problem is refused with 401, and nothing reaches Temporal or the clicker.
func TestSignatureProblemsFailClosed(t *testing.T) {
	e := newEnv(t, slackbridge.Config{})
	body := e.click(slacknotify.ActionApprove, "U0ALICE").body()
	now := time.Now()
	cases := map[string]*http.Request{
		"wrong secret":              signed(t, e.url, body, "not-the-secret", now),
		"stale timestamp":           signed(t, e.url, body, secret, now.Add(-6*time.Minute)),
		"timestamp from the future": signed(t, e.url, body, secret, now.Add(6*time.Minute)),
		"body changed after signing": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			other := e.click(slacknotify.ActionAbort, "U0ALICE").body()
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(other)), int64(len(other))
			return r
		}(),
		"timestamp changed after signing": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			r.Header.Set("X-Slack-Request-Timestamp", r.Header.Get("X-Slack-Request-Timestamp")+"1")
			return r
		}(),
		"no signature": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			r.Header.Del("X-Slack-Signature")
			return r
		}(),
		"no timestamp": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}(),
		"signature not hex": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			r.Header.Set("X-Slack-Signature", "v0=zz")
			return r
		}(),
		"signature of another scheme": func() *http.Request {
			r := signed(t, e.url, body, secret, now)
			r.Header.Set("X-Slack-Signature", strings.Replace(r.Header.Get("X-Slack-Signature"), "v0=", "v1=", 1))
			return r
		}(),
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, http.StatusUnauthorized, do(t, req))
		})
	}

	// A valid request goes through once; the same request again is a replay.
	first := signed(t, e.url, body, secret, now)
	replay := signed(t, e.url, body, secret, now)
	require.Equal(t, http.StatusOK, do(t, first))
	e.answers.next(t)
	require.Equal(t, http.StatusUnauthorized, do(t, replay), "a replayed request is refused")

	e.bridge.Close(context.Background()) // every click in progress is done
	require.Len(t, e.temporal.updates(), 1, "only the valid request reached Temporal")
	require.Equal(t, 1, e.answers.count(), "refused requests get no answer")

	resp, err := http.Get(e.url)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// Refusals are shown to the clicker alone, with their reason.
func TestRefusalsAreEphemeral(t *testing.T) {
	e := newEnv(t, slackbridge.Config{Team: "T0TEAM"})
	send := func(c click) string {
		t.Helper()
		require.Equal(t, http.StatusOK, do(t, signed(t, e.url, c.body(), secret, time.Now())))
		return ephemeralText(t, e.answers.next(t))
	}

	require.Equal(t, ":no_entry: Refused: your Slack account (U0STRANGER) is not mapped to a zerodown identity, so you cannot approve releases from Slack. Ask whoever runs the zerodown Slack bridge to add you to its users.",
		send(e.click(slacknotify.ActionApprove, "U0STRANGER")))
	other := e.click(slacknotify.ActionApprove, "U0ALICE")
	other.team = "T0OTHER"
	require.Equal(t, ":no_entry: Refused: this zerodown bridge does not serve this Slack workspace.", send(other))
	noRelease := e.click(slacknotify.ActionApprove, "U0ALICE")
	noRelease.value = "approve please"
	require.Equal(t, ":no_entry: Refused: this button does not name a release.", send(noRelease))
	require.Empty(t, e.temporal.updates(), "none of these reached Temporal")

	// The release's own refusals: its validator's words.
	e.temporal.err = temporal.NewApplicationError("mallory may not approve release/board/prod: approvers are alice", "")
	require.Equal(t, ":no_entry: Refused: mallory may not approve release/board/prod: approvers are alice", send(e.click(slacknotify.ActionApprove, "U0MALLORY")))
	e.temporal.err = temporal.NewApplicationError("bob started release/board/prod and may not approve it too (canary.approval.fourEyes)", "")
	require.Contains(t, send(e.click(slacknotify.ActionApprove, "U0ALICE")), "may not approve it too (canary.approval.fourEyes)")
	e.temporal.err = serviceerror.NewNotFound("workflow execution already completed")
	require.Equal(t, ":no_entry: Refused: release/board/prod has already finished; this button belongs to a release that is over.", send(e.click(slacknotify.ActionAbort, "U0ALICE")))
	e.temporal.err = context.DeadlineExceeded
	require.Contains(t, send(e.click(slacknotify.ActionAbort, "U0ALICE")), "did not answer within 30s")
	e.temporal.err = errors.New("connection refused")
	require.Equal(t, ":warning: Could not abort release/board/prod: connection refused", send(e.click(slacknotify.ActionAbort, "U0ALICE")))

	// A button of another app is none of the bridge's business.
	foreign := e.click("someone_elses_button", "U0ALICE")
	require.Equal(t, http.StatusOK, do(t, signed(t, e.url, foreign.body(), secret, time.Now())))
	e.bridge.Close(context.Background())
	require.Equal(t, 8, e.answers.count())
}

// Without a usable response URL, the answer goes through chat.postEphemeral, in the thread.
func TestEphemeralFallback(t *testing.T) {
	srv := slacktest.New(t)
	api := slack.New(slacktest.Token, slack.OptionAPIURL(srv.APIURL()))
	e := newEnv(t, slackbridge.Config{Slack: api})

	c := e.click(slacknotify.ActionApprove, "U0STRANGER")
	c.responseURL, c.threadTS = "", "1700000000.000001"
	do(t, signed(t, e.url, c.body(), secret, time.Now()))
	c = e.click(slacknotify.ActionApprove, "U0ALICE")
	c.responseURL = "https://evil.example/steal" // signed, but not Slack's: never posted to
	do(t, signed(t, e.url, c.body(), secret, time.Now()))
	e.bridge.Close(context.Background())

	got := srv.Ephemeral()
	require.Len(t, got, 2)
	// The bridge answers each click on its own goroutine: the order is not the clicks'.
	if got[0].User != "U0STRANGER" {
		got[0], got[1] = got[1], got[0]
	}
	require.Equal(t, "U0STRANGER", got[0].User)
	require.Equal(t, "C0RELEASES", got[0].Channel)
	require.Equal(t, "1700000000.000001", got[0].ThreadTS)
	require.Contains(t, got[0].Text, "is not mapped to a zerodown identity")
	require.Equal(t, "U0ALICE", got[1].User)
	require.Equal(t, ":white_check_mark: release/board/prod: approved by alice.", got[1].Text)
	require.Zero(t, e.answers.count())
}

func TestConfig(t *testing.T) {
	_, err := slackbridge.New(slackbridge.Config{Temporal: &fakeTemporal{}})
	require.ErrorContains(t, err, "no Slack signing secret")
	_, err = slackbridge.New(slackbridge.Config{SigningSecret: secret, Temporal: &fakeTemporal{}, Users: map[string]string{"alice": "alice"}})
	require.ErrorContains(t, err, `"alice" is not a Slack user ID`)

	dir := t.TempDir()
	path := filepath.Join(dir, "users.yaml")
	require.NoError(t, os.WriteFile(path, []byte("users:\n  U0ALICE: alice\n  W0BOB: bob\n"), 0o600))
	users, err := slackbridge.LoadUsers(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"U0ALICE": "alice", "W0BOB": "bob"}, users)

	require.NoError(t, os.WriteFile(path, []byte("user:\n  U0ALICE: alice\n"), 0o600))
	_, err = slackbridge.LoadUsers(path)
	require.ErrorContains(t, err, "field user not found")
	require.NoError(t, os.WriteFile(path, []byte("users:\n  U0ALICE: \"\"\n"), 0o600))
	_, err = slackbridge.LoadUsers(path)
	require.ErrorContains(t, err, "U0ALICE maps to no identity")
}
