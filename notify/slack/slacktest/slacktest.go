// Package slacktest is a recording Slack Web API for tests, built on slack-go's slacktest
// server. slacktest answers auth and the like but neither keeps what was posted nor
// implements chat.update, threads, message metadata or history, which the notifier and
// the Slack bridge rely on; this package adds them with slacktest's own customisation
// hook, and keeps every message so that tests can look at what people would see.
package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	slackgotest "github.com/slack-go/slack/slacktest"
)

// Token is the bot token the server accepts; any other is invalid_auth.
const Token = "xoxb-zerodown-test"

// Message is a message as Slack would keep it.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // set on replies
	Text      string
	Blocks    slack.Blocks
	Metadata  slack.SlackMetadata
	Broadcast bool
	User      string // the recipient of an ephemeral message
	Updates   int    // how many times chat.update changed it
}

// View is a modal opened with views.open.
type View struct {
	TriggerID string
	View      slack.ModalViewRequest
}

// Server is a running fake Slack.
type Server struct {
	*slackgotest.Server

	mu        sync.Mutex
	seq       int
	messages  []*Message // posted, in order
	ephemeral []*Message
	views     []View
	channels  map[string]string // name -> ID
	calls     map[string]int
	faults    map[string][]fault
}

type fault struct {
	code       string // a Slack error code; "" with afterWrite for a lost answer
	afterWrite bool   // the call takes effect, but its answer is lost (HTTP 502)
	rateLimit  bool
}

var idRE = regexp.MustCompile(`^[CGD][A-Z0-9]{6,}$`)

// New starts a fake Slack that knows the channel #releases (C0RELEASES) and stops it when
// the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		channels: map[string]string{"releases": "C0RELEASES"},
		calls:    map[string]int{},
		faults:   map[string][]fault{},
	}
	s.Server = slackgotest.NewTestServer(func(c slackgotest.Customize) {
		c.Handle("/chat.postMessage", s.postMessage)
		c.Handle("/chat.update", s.update)
		c.Handle("/chat.postEphemeral", s.postEphemeral)
		c.Handle("/conversations.history", s.history)
		c.Handle("/conversations.replies", s.replies)
		c.Handle("/conversations.list", s.list)
		c.Handle("/views.open", s.openView)
	})
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// APIURL is the base URL to give slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.GetAPIURL() }

// Fail makes the next call of method (e.g. "chat.postMessage") fail with a Slack error code.
func (s *Server) Fail(method, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], fault{code: code})
}

// LoseAnswer makes the next call of method take effect but answer HTTP 502, as when a
// connection drops after Slack has posted: the client cannot know it worked.
func (s *Server) LoseAnswer(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], fault{afterWrite: true})
}

// RateLimit makes the next call of method answer 429 with Retry-After: 7.
func (s *Server) RateLimit(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], fault{rateLimit: true})
}

// Calls is how many times method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// TopLevel is the messages posted in a channel outside threads (and broadcast replies),
// oldest first.
func (s *Server) TopLevel(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && (m.ThreadTS == "" || m.Broadcast) {
			out = append(out, *m)
		}
	}
	return out
}

// Thread is the replies in the thread of ts, oldest first.
func (s *Server) Thread(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == ts {
			out = append(out, *m)
		}
	}
	return out
}

// Ephemeral is the ephemeral messages posted with chat.postEphemeral, oldest first.
func (s *Server) Ephemeral() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.ephemeral))
	for i, m := range s.ephemeral {
		out[i] = *m
	}
	return out
}

// begin parses the form, counts the call, checks the token and applies a planned fault.
// It returns a fault to apply once the call has taken effect, or false when it has
// answered already.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, method string) (*fault, bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	s.mu.Lock()
	s.calls[method]++
	var f *fault
	if q := s.faults[method]; len(q) > 0 {
		f = &q[0]
		s.faults[method] = q[1:]
	}
	s.mu.Unlock()
	token := r.Form.Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if token != Token {
		answer(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return nil, false
	}
	switch {
	case f == nil || f.afterWrite:
		return f, true
	case f.rateLimit:
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		return nil, false
	default:
		answer(w, map[string]any{"ok": false, "error": f.code})
		return nil, false
	}
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// finish answers v, or loses the answer when the fault says so.
func finish(w http.ResponseWriter, f *fault, v any) {
	if f != nil && f.afterWrite {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	answer(w, v)
}

// channel resolves a name (#releases) or an ID, as Slack does.
func (s *Server) channel(c string) (string, bool) {
	if idRE.MatchString(c) {
		return c, true
	}
	id, ok := s.channels[strings.TrimPrefix(c, "#")]
	return id, ok
}

func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("1700000000.%06d", s.seq)
}

func decodeMessage(r *http.Request, m *Message) error {
	m.Text = r.Form.Get("text")
	if b := r.Form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &m.Blocks); err != nil {
			return fmt.Errorf("blocks: %w", err)
		}
	}
	if md := r.Form.Get("metadata"); md != "" {
		if err := json.Unmarshal([]byte(md), &m.Metadata); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	return nil
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "chat.postMessage")
	if !ok {
		return
	}
	m := &Message{ThreadTS: r.Form.Get("thread_ts"), Broadcast: r.Form.Get("reply_broadcast") == "true"}
	if err := decodeMessage(r, m); err != nil {
		answer(w, map[string]any{"ok": false, "error": "invalid_blocks", "detail": err.Error()})
		return
	}
	s.mu.Lock()
	id, known := s.channel(r.Form.Get("channel"))
	if !known {
		s.mu.Unlock()
		answer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if m.ThreadTS != "" && s.find(id, m.ThreadTS) == nil {
		s.mu.Unlock()
		answer(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	m.Channel, m.TS = id, s.nextTS()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	finish(w, f, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS})
}

// find returns the message at ts in channel; the caller holds s.mu.
func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "chat.update")
	if !ok {
		return
	}
	var in Message
	if err := decodeMessage(r, &in); err != nil {
		answer(w, map[string]any{"ok": false, "error": "invalid_blocks", "detail": err.Error()})
		return
	}
	s.mu.Lock()
	id, _ := s.channel(r.Form.Get("channel"))
	m := s.find(id, r.Form.Get("ts"))
	if m == nil {
		s.mu.Unlock()
		answer(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	m.Text, m.Blocks, m.Updates = in.Text, in.Blocks, m.Updates+1
	if in.Metadata.EventType != "" { // as Slack: metadata left out is kept
		m.Metadata = in.Metadata
	}
	s.mu.Unlock()
	finish(w, f, map[string]any{"ok": true, "channel": id, "ts": m.TS, "text": m.Text})
}

func (s *Server) postEphemeral(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "chat.postEphemeral")
	if !ok {
		return
	}
	m := &Message{User: r.Form.Get("user"), ThreadTS: r.Form.Get("thread_ts")}
	if err := decodeMessage(r, m); err != nil {
		answer(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	s.mu.Lock()
	id, known := s.channel(r.Form.Get("channel"))
	if !known {
		s.mu.Unlock()
		answer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	m.Channel, m.TS = id, s.nextTS()
	s.ephemeral = append(s.ephemeral, m)
	s.mu.Unlock()
	finish(w, f, map[string]any{"ok": true, "message_ts": m.TS})
}

// wire is a message as the Web API returns it.
func wire(m *Message) map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Metadata.EventType != "" {
		out["metadata"] = m.Metadata
	}
	return out
}

// history answers newest first, one page of `limit` at a time, like Slack.
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "conversations.history")
	if !ok {
		return
	}
	s.mu.Lock()
	id, known := s.channel(r.Form.Get("channel"))
	var all []map[string]any
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Channel == id && (m.ThreadTS == "" || m.Broadcast) {
			all = append(all, wire(m))
		}
	}
	s.mu.Unlock()
	if !known {
		answer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	finish(w, f, page(r, all))
}

// replies answers the parent then its replies, oldest first, like Slack.
func (s *Server) replies(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "conversations.replies")
	if !ok {
		return
	}
	s.mu.Lock()
	id, _ := s.channel(r.Form.Get("channel"))
	ts := r.Form.Get("ts")
	var all []map[string]any
	if p := s.find(id, ts); p != nil {
		all = append(all, wire(p))
	}
	for _, m := range s.messages {
		if m.Channel == id && m.ThreadTS == ts {
			all = append(all, wire(m))
		}
	}
	s.mu.Unlock()
	if len(all) == 0 {
		answer(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	finish(w, f, page(r, all))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	f, ok := s.begin(w, r, "conversations.list")
	if !ok {
		return
	}
	s.mu.Lock()
	var chans []map[string]any
	for name, id := range s.channels {
		chans = append(chans, map[string]any{"id": id, "name": name, "is_channel": true})
	}
	s.mu.Unlock()
	finish(w, f, map[string]any{"ok": true, "channels": chans, "response_metadata": map[string]any{"next_cursor": ""}})
}

// page cuts a list by the request's cursor (an offset) and limit.
func page(r *http.Request, all []map[string]any) map[string]any {
	var start, limit int
	_, _ = fmt.Sscan(r.Form.Get("cursor"), &start)
	if _, err := fmt.Sscan(r.Form.Get("limit"), &limit); err != nil || limit <= 0 {
		limit = 100
	}
	start = min(start, len(all))
	end := min(start+limit, len(all))
	next := ""
	if end < len(all) {
		next = fmt.Sprint(end)
	}
	return map[string]any{
		"ok": true, "messages": all[start:end], "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next},
	}
}

// Views is the modals opened with views.open, oldest first.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]View(nil), s.views...)
}

// openView keeps the modal; like Slack, it wants a trigger ID and a modal with a title.
func (s *Server) openView(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TriggerID string                 `json:"trigger_id"`
		View      slack.ModalViewRequest `json:"view"`
	}
	s.mu.Lock()
	s.calls["views.open"]++
	s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+Token {
		answer(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.TriggerID == "" || in.View.Title == nil {
		answer(w, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}
	s.mu.Lock()
	s.views = append(s.views, View{TriggerID: in.TriggerID, View: in.View})
	id := fmt.Sprintf("V%06d", len(s.views))
	s.mu.Unlock()
	answer(w, map[string]any{"ok": true, "view": map[string]any{"id": id, "callback_id": in.View.CallbackID}})
}
