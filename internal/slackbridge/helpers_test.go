package slackbridge_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify/slack"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

// click is a button press as Slack sends it to the interactivity URL.
type click struct {
	user, team, action, value, responseURL, channel, threadTS string
}

// clicks numbers the clicks: two real clicks never have the same trigger ID, so never
// the same body nor signature.
var clicks atomic.Int64

func (c click) body() string {
	payload := map[string]any{
		"type":         "block_actions",
		"trigger_id":   fmt.Sprintf("1700000100.%d.abc", clicks.Add(1)),
		"team":         map[string]any{"id": c.team},
		"user":         map[string]any{"id": c.user, "username": "whoever-they-say"},
		"channel":      map[string]any{"id": c.channel},
		"response_url": c.responseURL,
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000001", "thread_ts": c.threadTS, "channel_id": c.channel},
		"actions": []map[string]any{{
			"type": "button", "action_id": c.action, "block_id": "zerodown_approval_actions", "value": c.value,
			"action_ts": "1700000100.000200",
		}},
	}
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}

func buttonValue(release, firstRun string) string {
	return slack.ActionValue{ReleaseID: release, FirstRunID: firstRun}.Encode()
}

// signed builds the request Slack would send, signed with key at time ts.
func signed(t *testing.T, target, body, key string, ts time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	require.NoError(t, err)
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// answers records what the bridge posts to response URLs.
type answers struct {
	*httptest.Server
	mu  sync.Mutex
	got []map[string]any
	ch  chan struct{}
}

func newAnswers(t *testing.T) *answers {
	a := &answers{ch: make(chan struct{}, 100)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		a.mu.Lock()
		a.got = append(a.got, m)
		a.mu.Unlock()
		a.ch <- struct{}{}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(a.Close)
	return a
}

// next waits for the next answer.
func (a *answers) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case <-a.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("the clicker was never answered")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.got[len(a.got)-1]
}

func (a *answers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// ephemeralText checks that an answer is shown to the clicker alone and returns its text.
func ephemeralText(t *testing.T, m map[string]any) string {
	t.Helper()
	require.Equal(t, "ephemeral", m["response_type"], "only the clicker sees it")
	require.Equal(t, false, m["replace_original"], "the release message stays")
	s, _ := m["text"].(string)
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
