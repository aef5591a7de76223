// Package slackbridge turns clicks on the Approve, Abort and Promote buttons of a release's
// Slack thread, and on the Confirm and Reject buttons of a change's (change.go), into the
// workflow's Temporal updates. It is the only way in from Slack, so it
// trusts nothing it has not verified: each request must carry a valid signature made with
// the app's signing secret and a fresh timestamp, and must not have been seen before;
// anything else is refused with 401 and goes no further. The person who clicked is named
// by the bridge's own map of Slack user IDs to zerodown identities, never by the payload's
// user name, and the release itself decides (its update validators) whether that person may
// do what they asked. Whatever the outcome, the clicker is told with an ephemeral message.
package slackbridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// Defaults of Config.
const (
	// DefaultReplayWindow is how far a request's timestamp may be from now: slack-go's
	// verifier refuses older (and later) ones, and the replay cache remembers requests for
	// that long, so that a captured request can never be sent again.
	DefaultReplayWindow = 5 * time.Minute
	// DefaultUpdateTimeout bounds waiting for the release to answer an update.
	DefaultUpdateTimeout = 30 * time.Second
	// DefaultResponseURLPrefix is where Slack's response URLs live; the bridge posts to no
	// other host, even when asked by a signed payload.
	DefaultResponseURLPrefix = "https://hooks.slack.com/"
	// maxBody bounds a request: Slack's interactivity payloads are a few kilobytes.
	maxBody = 1 << 20
	// maxRemembered bounds the replay cache; when full of live entries, new requests are
	// refused rather than let in unchecked.
	maxRemembered = 100_000
)

// Updater sends a workflow update; client.Client is one.
type Updater interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// Config configures a Bridge.
type Config struct {
	// SigningSecret is the Slack app's signing secret (Basic Information, App Credentials).
	SigningSecret string
	// Users maps Slack user IDs (U0123ABCD) to the identities the release spec's approvers
	// name. A click by anyone else is refused before it reaches Temporal.
	Users map[string]string
	// Team, if set, is the only Slack workspace (T0123ABCD) whose clicks are accepted.
	Team string
	// Temporal sends the updates.
	Temporal Updater
	// Slack, if set, posts ephemeral answers with chat.postEphemeral when a payload has
	// no usable response URL, and opens the form that asks why a change's step is
	// rejected (without it, Reject tells the clicker to use the CLI).
	Slack *slack.Client
	// HTTPClient posts to response URLs.
	HTTPClient *http.Client
	// ResponseURLPrefix restricts where answers are posted (DefaultResponseURLPrefix).
	ResponseURLPrefix string
	ReplayWindow      time.Duration
	UpdateTimeout     time.Duration
	Logger            *slog.Logger
	// Now is the clock of the replay cache and of signatures (tests).
	Now func() time.Time
	// SigningKey, if set, signs each request for the mapped user (see sign.go); Status
	// must then be set too.
	SigningKey ssh.Signer
	// Status reads workflows' status: a change's, before its buttons act (required for
	// them), a release's gate, to sign.
	Status StatusQuerier
}

// Bridge is the HTTP handler of Slack's interactivity requests.
type Bridge struct {
	cfg    Config
	replay *replayCache
	// Clicks are acknowledged at once (Slack wants an answer within 3 seconds) and carried
	// out in the background; ctx and wg let Close wait for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Bridge; it refuses a configuration that could not verify requests.
func New(cfg Config) (*Bridge, error) {
	if cfg.SigningSecret == "" {
		return nil, errors.New("no Slack signing secret: every request would be refused")
	}
	if cfg.Temporal == nil {
		return nil, errors.New("no Temporal client")
	}
	if err := CheckUsers(cfg.Users); err != nil {
		return nil, err
	}
	if err := checkSigning(cfg); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.ResponseURLPrefix == "" {
		cfg.ResponseURLPrefix = DefaultResponseURLPrefix
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = DefaultReplayWindow
	}
	if cfg.UpdateTimeout <= 0 {
		cfg.UpdateTimeout = DefaultUpdateTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bridge{
		cfg:    cfg,
		replay: newReplayCache(cfg.ReplayWindow, maxRemembered, cfg.Now),
		ctx:    ctx,
		cancel: cancel,
	}, nil
}

// Close waits for the clicks in progress to be carried out and answered; ctx bounds the
// wait, after which they are cancelled.
func (b *Bridge) Close(ctx context.Context) {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		b.cancel()
		<-done
	}
	b.cancel()
}

// ServeHTTP verifies a request and acknowledges it; the click is carried out afterwards.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	sig, err := b.verify(r.Header, body)
	if err != nil {
		b.cfg.Logger.Warn("refused a Slack request", "remote", r.RemoteAddr, "reason", err)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "not a form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "no interaction payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.handle(b.ctx, &cb, sig)
	}()
}

// verify checks the signature and timestamp with slack-go's verifier, then that the
// request is new. It returns the signature, which identifies the request.
func (b *Bridge) verify(h http.Header, body []byte) (string, error) {
	sv, err := slack.NewSecretsVerifier(h, b.cfg.SigningSecret)
	if err != nil {
		return "", fmt.Errorf("signature headers: %w", err)
	}
	if _, err := sv.Write(body); err != nil {
		return "", err
	}
	if err := sv.Ensure(); err != nil {
		return "", err
	}
	sig := h.Get("X-Slack-Signature")
	ts, _ := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64) // checked by the verifier
	if !b.replay.first(sig, time.Unix(ts, 0)) {
		return "", errors.New("replayed request: this signature was already used")
	}
	return sig, nil
}

// action is what a button asks of the release.
type action struct {
	update  string
	verb    string // for messages: "approve"
	payload func(by string, sig *signing.Signed) any
}

var actions = map[string]action{
	slacknotify.ActionApprove: {workflows.UpdateApprove, "approve", func(by string, sig *signing.Signed) any {
		req := workflows.ApproveRequest{By: by, Comment: "from Slack"}
		req.Signature = sig // nil when unsigned: the JSON is then as it always was
		return req
	}},
	slacknotify.ActionAbort: {workflows.UpdateAbort, "abort", func(by string, sig *signing.Signed) any {
		req := workflows.AbortRequest{By: by, Reason: "aborted from Slack"}
		req.Signature = sig // nil when unsigned: the JSON is then as it always was
		return req
	}},
	slacknotify.ActionPromote: {workflows.UpdatePromote, "promote", func(by string, sig *signing.Signed) any {
		req := workflows.ActorRequest{By: by}
		req.Signature = sig // nil when unsigned: the JSON is then as it always was
		return req
	}},
}

// handle carries out the zerodown buttons of a verified click (and the reject form's
// submission) and answers the clicker.
func (b *Bridge) handle(ctx context.Context, cb *slack.InteractionCallback, sig string) {
	if cb.Type == slack.InteractionTypeViewSubmission && cb.View.CallbackID == RejectCallbackID {
		b.rejectSubmitted(ctx, cb, fmt.Sprintf("slack-%s-form", digest(sig)))
		return
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		b.cfg.Logger.Debug("ignored an interaction that is no button click", "type", cb.Type)
		return
	}
	for i, ba := range cb.ActionCallback.BlockActions {
		updateID := fmt.Sprintf("slack-%s-%d", digest(sig), i)
		switch ba.ActionID {
		case slacknotify.ActionConfirm:
			b.answer(ctx, cb, b.confirmClick(ctx, cb, ba.Value, updateID))
			continue
		case slacknotify.ActionReject:
			if msg := b.rejectClick(ctx, cb, ba.Value); msg != "" {
				b.answer(ctx, cb, msg)
			}
			continue
		}
		act, ok := actions[ba.ActionID]
		if !ok {
			b.cfg.Logger.Debug("ignored a button that is not zerodown's", "actionId", ba.ActionID)
			continue // another app's button, or a link
		}
		msg := b.click(ctx, cb, act, ba.Value, updateID)
		b.answer(ctx, cb, msg)
	}
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// click sends one update to a release and says how it went, in words for the clicker.
func (b *Bridge) click(ctx context.Context, cb *slack.InteractionCallback, act action, value, updateID string) string {
	who, refused := b.identify(cb, act.verb+" releases")
	if refused != "" {
		return refused
	}
	v, err := slacknotify.DecodeActionValue(value)
	if err != nil {
		b.cfg.Logger.Warn("button without a release", "slackUser", cb.User.ID, "action", act.verb, "error", err)
		return ":no_entry: Refused: this button does not name a release."
	}
	uctx, cancel := context.WithTimeout(ctx, b.cfg.UpdateTimeout)
	defer cancel()
	sig, err := b.sign(uctx, act.update, v.ReleaseID, v.FirstRunID, who)
	if err != nil {
		b.cfg.Logger.Error("update failed", "slackUser", cb.User.ID, "by", who, "release", v.ReleaseID, "error", err)
		return fmt.Sprintf(":warning: Could not %s %s: %v", act.verb, v.ReleaseID, err)
	}
	return b.send(uctx, sent{kind: "release", verb: act.verb, workflowID: v.ReleaseID, firstRun: v.FirstRunID,
		update: act.update, updateID: updateID, by: who, payload: act.payload(who, sig)})
}

// sent is one update the bridge sends for a person.
type sent struct {
	kind, verb                   string // "release", "approve": for messages
	workflowID, firstRun, update string
	updateID, by                 string
	payload                      any
}

// send sends an update and says how it went, in words for the person.
func (b *Bridge) send(ctx context.Context, u sent) string {
	log := b.cfg.Logger.With("by", u.by, "action", u.verb, u.kind, u.workflowID)
	uctx, cancel := context.WithTimeout(ctx, b.cfg.UpdateTimeout)
	defer cancel()
	h, err := b.cfg.Temporal.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		// The ID derives from the request's signature: a request that reached Temporal
		// twice (two bridges, say) is one update.
		UpdateID:            u.updateID,
		WorkflowID:          u.workflowID,
		FirstExecutionRunID: u.firstRun,
		UpdateName:          u.update,
		Args:                []any{u.payload},
		WaitForStage:        client.WorkflowUpdateStageCompleted,
	})
	var result string
	if err == nil {
		err = h.Get(uctx, &result)
	}
	if err == nil {
		log.Info(u.kind+" updated from Slack", "result", result)
		return fmt.Sprintf(":white_check_mark: %s: %s.", u.workflowID, result)
	}
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &app):
		log.Info(u.kind+" refused the update", "reason", app.Message())
		return ":no_entry: Refused: " + app.Message()
	case errors.As(err, &notFound):
		log.Info(u.kind+" not running", "error", err)
		return fmt.Sprintf(":no_entry: Refused: %s has already finished; this button belongs to a %s that is over.", u.workflowID, u.kind)
	case errors.Is(err, context.DeadlineExceeded) || isDeadline(err):
		log.Warn("no answer from the "+u.kind, "error", err)
		return fmt.Sprintf(":hourglass: %s did not answer within %s (is a zerodown worker running?). It may still act on your request: check the thread or `zerodown status`.", u.workflowID, b.cfg.UpdateTimeout)
	}
	log.Error("update failed", "error", err)
	return fmt.Sprintf(":warning: Could not %s %s: %v", u.verb, u.workflowID, err)
}

func isDeadline(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var ce *serviceerror.Canceled
	return errors.As(err, &de) || errors.As(err, &ce)
}

// answer shows text to the clicker only: through the payload's response URL when it
// points at Slack, else with chat.postEphemeral when the bridge has a bot token.
func (b *Bridge) answer(ctx context.Context, cb *slack.InteractionCallback, text string) {
	if u := cb.ResponseURL; u != "" && strings.HasPrefix(u, b.cfg.ResponseURLPrefix) {
		msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: false}
		err := slack.PostWebhookCustomHTTPContext(ctx, u, b.cfg.HTTPClient, msg)
		if err == nil {
			return
		}
		b.cfg.Logger.Warn("cannot answer through the response URL", "error", err)
	} else if u != "" {
		b.cfg.Logger.Warn("response URL outside Slack ignored", "url", u, "allowed", b.cfg.ResponseURLPrefix)
	}
	if b.cfg.Slack == nil || cb.Channel.ID == "" {
		b.cfg.Logger.Warn("the clicker could not be answered", "slackUser", cb.User.ID, "answer", text)
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if ts := cb.Container.ThreadTs; ts != "" {
		opts = append(opts, slack.MsgOptionTS(ts))
	}
	if _, err := b.cfg.Slack.PostEphemeralContext(ctx, cb.Channel.ID, cb.User.ID, opts...); err != nil {
		b.cfg.Logger.Warn("the clicker could not be answered", "slackUser", cb.User.ID, "answer", text, "error", err)
	}
}
