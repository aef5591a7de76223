package slack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/zerodown/zerodown/notify"
)

// Metadata event types the notifier tags its messages with. Slack keeps a message's
// metadata and returns it with the history, which is how a retry finds what an earlier
// try posted: the parent by the release's key, a reply by the event's Seq and part.
const (
	metaRelease = "zerodown_release"
	metaEvent   = "zerodown_event"
)

// threadPrefix marks a thread made by this notifier; anything else (a log thread, or
// nothing) makes it start the release's parent message.
const threadPrefix = "slack:"

// Lookups read at most this many pages of history: enough for a busy channel over a
// release's life, bounded so that a retry never pages through years.
const (
	historyPages = 10
	pageSize     = 200
)

// channelIDRE recognises a conversation ID, which needs no lookup.
var channelIDRE = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// Options configure the Slack notifier.
type Options struct {
	// APIURL is the Web API base URL, e.g. a slacktest server's; Slack's when empty.
	APIURL     string
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Slack posts each release as a thread: a parent message (Block Kit) redrawn with every
// event through chat.update, and one reply per event. It needs the bot scopes chat:write,
// and for retries that never post twice channels:history (groups:history for private
// channels) and, when the spec names a channel by name, channels:read (groups:read).
//
// Idempotency: the parent carries message metadata with the release's key (release ID and
// first run ID) and replies carry the event's Seq. When it has no thread yet, the notifier
// looks for a parent with that key in the channel's history (from the release's start)
// before posting one; on a retried request (Attempt > 1) it reads the thread's replies and
// skips the parts already posted. Without the history scopes it warns and posts anyway.
type Notifier struct {
	api    *slackapi.Client
	logger *slog.Logger

	mu       sync.Mutex
	channels map[string]string // name without '#' -> ID
}

// New returns a Slack notifier posting with the bot token.
func New(token string, opts Options) *Notifier {
	var options []slackapi.Option
	if opts.APIURL != "" {
		options = append(options, slackapi.OptionAPIURL(opts.APIURL))
	}
	if opts.HTTPClient != nil {
		options = append(options, slackapi.OptionHTTPClient(opts.HTTPClient))
	} else {
		options = append(options, slackapi.OptionHTTPClient(&http.Client{Timeout: 20 * time.Second}))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Notifier{api: slackapi.New(token, options...), logger: logger, channels: map[string]string{}}
}

// Notify posts the event in the release's thread and redraws the parent message.
func (s *Notifier) Notify(ctx context.Context, req notify.Request) (notify.Result, error) {
	e := req.Event
	channel, ts, ok := parseThread(req.Thread)
	if req.ReplyOnly {
		// A release of a change: replies in the change's thread, whose parent is the
		// change's to draw.
		if ok {
			if err := s.replies(ctx, channel, ts, req.Attempt, false, e, true); err != nil {
				return notify.Result{}, err
			}
		}
		return notify.Result{Thread: req.Thread}, nil
	}
	if !ok && req.Channel == "" {
		return notify.Result{Thread: req.Thread}, nil // the spec asks for no Slack
	}
	fresh := false
	if !ok {
		var err error
		if channel, ts, fresh, err = s.parent(ctx, req.Channel, e); err != nil {
			return notify.Result{}, err
		}
	}
	if err := s.replies(ctx, channel, ts, req.Attempt, fresh, e, false); err != nil {
		return notify.Result{}, err
	}
	if !fresh { // a parent just posted is already current
		_, _, _, err := s.api.UpdateMessageContext(ctx, channel, ts,
			slackapi.MsgOptionText(parentText(e), false),
			slackapi.MsgOptionBlocks(parentBlocks(e)...),
			slackapi.MsgOptionMetadata(releaseMeta(e)))
		if err != nil {
			return notify.Result{}, wrap("update the release message", err)
		}
	}
	return notify.Result{Thread: threadPrefix + channel + ":" + ts}, nil
}

func parseThread(thread string) (channel, ts string, ok bool) {
	rest, ok := strings.CutPrefix(thread, threadPrefix)
	if !ok {
		return "", "", false
	}
	channel, ts, ok = strings.Cut(rest, ":")
	return channel, ts, ok && channel != "" && ts != ""
}

func releaseMeta(e notify.Event) slackapi.SlackMetadata {
	return slackapi.SlackMetadata{EventType: metaRelease, EventPayload: map[string]any{"key": e.Key(), "release": e.ReleaseID}}
}

func eventMeta(e notify.Event, part string) slackapi.SlackMetadata {
	return slackapi.SlackMetadata{EventType: metaEvent, EventPayload: map[string]any{"key": e.Key(), "seq": strconv.Itoa(e.Seq), "part": part}}
}

// parent finds the release's parent message, or posts it. fresh says it was just posted.
func (s *Notifier) parent(ctx context.Context, channel string, e notify.Event) (id, ts string, fresh bool, err error) {
	if id, err = s.channelID(ctx, channel); err != nil {
		return "", "", false, err
	}
	if id != "" {
		ts, err = s.findParent(ctx, id, e)
		switch {
		case err != nil && notify.IsPermanent(err):
			s.logger.Warn("cannot read the channel's history: a retried first message may be posted twice (grant channels:history, groups:history)",
				"channel", channel, "error", err)
		case err != nil:
			return "", "", false, err
		case ts != "":
			return id, ts, false, nil
		}
	}
	id, ts, err = s.api.PostMessageContext(ctx, cmp.Or(id, channel),
		slackapi.MsgOptionText(parentText(e), false),
		slackapi.MsgOptionBlocks(parentBlocks(e)...),
		slackapi.MsgOptionMetadata(releaseMeta(e)))
	if err != nil {
		return "", "", false, wrap("post the release message in "+channel, err)
	}
	return id, ts, true, nil
}

// channelID resolves a channel name to its ID, which history lookups need; "" when it
// cannot (no channels:read), in which case the caller posts by name.
func (s *Notifier) channelID(ctx context.Context, channel string) (string, error) {
	if channelIDRE.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	s.mu.Lock()
	id, ok := s.channels[name]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	params := &slackapi.GetConversationsParameters{ExcludeArchived: true, Limit: 1000, Types: []string{"public_channel", "private_channel"}}
	for range historyPages {
		chans, cursor, err := s.api.GetConversationsContext(ctx, params)
		if err != nil {
			err = wrap("look up channel "+channel, err)
			if notify.IsPermanent(err) {
				s.logger.Warn("cannot resolve the channel name: a retried first message may be posted twice (grant channels:read, groups:read, or use the channel ID)",
					"channel", channel, "error", err)
				return "", nil
			}
			return "", err
		}
		for _, c := range chans {
			if c.Name == name {
				s.mu.Lock()
				s.channels[name] = c.ID
				s.mu.Unlock()
				return c.ID, nil
			}
		}
		if cursor == "" {
			break
		}
		params.Cursor = cursor
	}
	return "", nil
}

// findParent looks for the release's parent in the channel's history since the release
// started (less a margin for clocks that disagree).
func (s *Notifier) findParent(ctx context.Context, channel string, e notify.Event) (string, error) {
	since := time.Now().Add(-7 * 24 * time.Hour)
	if !e.Started.IsZero() {
		since = e.Started.Add(-10 * time.Minute)
	}
	key := e.Key()
	params := &slackapi.GetConversationHistoryParameters{
		ChannelID: channel, Oldest: fmt.Sprintf("%d.000000", since.Unix()), Limit: pageSize, IncludeAllMetadata: true,
	}
	for range historyPages {
		resp, err := s.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", wrap("read the history of "+channel, err)
		}
		for _, m := range resp.Messages {
			if m.Metadata.EventType == metaRelease && fmt.Sprint(m.Metadata.EventPayload["key"]) == key {
				return m.Timestamp, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	return "", nil
}

// replies posts the event's messages in the thread, skipping, on a retry, those an
// earlier try posted. labelled names the release in each reply: it answers in another's
// thread (its change's).
func (s *Notifier) replies(ctx context.Context, channel, ts string, attempt int, fresh bool, e notify.Event, labelled bool) error {
	parts := replyParts(e, labelled)
	if len(parts) == 0 {
		return nil
	}
	done := map[string]bool{}
	if attempt > 1 && e.Seq > 0 && !fresh {
		var err error
		if done, err = s.posted(ctx, channel, ts, e); err != nil {
			if !notify.IsPermanent(err) {
				return err
			}
			s.logger.Warn("cannot read the release thread: a retried event may be posted twice", "channel", channel, "error", err)
		}
	}
	for _, p := range parts {
		if done[p.id] {
			continue
		}
		opts := []slackapi.MsgOption{
			slackapi.MsgOptionText(p.text, false),
			slackapi.MsgOptionBlocks(p.blocks...),
			slackapi.MsgOptionTS(ts),
			slackapi.MsgOptionMetadata(eventMeta(e, p.id)),
		}
		if p.broadcast {
			opts = append(opts, slackapi.MsgOptionBroadcast())
		}
		if _, _, err := s.api.PostMessageContext(ctx, channel, opts...); err != nil {
			return wrap(fmt.Sprintf("post %s (%s) in the release thread", e.Kind, p.id), err)
		}
	}
	return nil
}

// posted lists the parts of the event already in the thread.
func (s *Notifier) posted(ctx context.Context, channel, ts string, e notify.Event) (map[string]bool, error) {
	done := map[string]bool{}
	key, seq := e.Key(), strconv.Itoa(e.Seq)
	params := &slackapi.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts, Limit: pageSize, IncludeAllMetadata: true}
	for range historyPages {
		msgs, more, cursor, err := s.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return done, wrap("read the release thread", err)
		}
		for _, m := range msgs {
			p := m.Metadata.EventPayload
			if m.Metadata.EventType == metaEvent && fmt.Sprint(p["key"]) == key && fmt.Sprint(p["seq"]) == seq {
				done[fmt.Sprint(p["part"])] = true
			}
		}
		if !more || cursor == "" {
			break
		}
		params.Cursor = cursor
	}
	return done, nil
}

// permanentCodes are Slack errors that retrying cannot cure: the release goes on and the
// workflow records that its notifications failed.
var permanentCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "missing_scope": true, "not_allowed_token_type": true,
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "restricted_action": true,
	"msg_too_long": true, "invalid_blocks": true, "invalid_blocks_format": true, "too_many_attachments": true,
	"invalid_metadata_format": true, "invalid_metadata_schema": true, "metadata_too_large": true,
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true, "thread_not_found": true,
	"team_access_not_granted": true, "ekm_access_denied": true, "org_login_required": true,
}

func wrap(op string, err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &notify.Error{Op: op, RetryAfter: rl.RetryAfter, Err: err}
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return &notify.Error{Op: op, Permanent: permanentCodes[se.Err], Err: err}
	}
	return &notify.Error{Op: op, Err: err}
}
