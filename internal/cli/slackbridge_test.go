package cli_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/workflows"
)

func TestSlackBridgeUsage(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.yaml")
	require.NoError(t, os.WriteFile(users, []byte("users:\n  alice: U0ALICE\n"), 0o600))
	cases := []struct {
		secret string
		argv   []string
		want   string
	}{
		{"", []string{"--users", "U0ALICE=alice"}, "usage: $SLACK_SIGNING_SECRET is not set"},
		{"s3cret", nil, "usage: no Slack users mapped: every click would be refused"},
		{"s3cret", []string{"--users", "alice=U0ALICE"}, `usage: users: "alice" is not a Slack user ID`},
		{"s3cret", []string{"--users-file", users}, `usage: ` + users + `: users: "alice" is not a Slack user ID`},
		{"s3cret", []string{"--users-file", users + ".missing"}, "usage: open "},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.argv, " "), func(t *testing.T) {
			t.Setenv(cli.SlackSigningSecretEnv, tc.secret)
			r := zerodown(t, nil, append([]string{"slack-bridge", "--address", closedAddress(t)}, tc.argv...)...)
			require.Equal(t, cli.ExitUsage, r.code)
			require.True(t, strings.HasPrefix(r.stderr, tc.want), r.stderr)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one clear line")
		})
	}
}

// `zerodown slack-bridge` serves signed clicks: an Approve click by a mapped user approves
// a release waiting on the dev server; an unsigned request is refused.
func TestSlackBridgeCommandApproves(t *testing.T) {
	e := newEnv(t)
	const secret = "s3cret-for-tests"
	t.Setenv(cli.SlackSigningSecretEnv, secret)
	var stderr syncBuffer
	app := &cli.App{Stdout: &syncBuffer{}, Stderr: &stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- app.Run(ctx, []string{"slack-bridge", "--listen", "127.0.0.1:0", "--users", "U0ALICE=alice", "--address", e.addr})
	}()
	defer func() {
		cancel()
		require.Equal(t, cli.ExitSucceeded, <-done, stderr.String())
	}()
	var base string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+)/slack/actions`).FindStringSubmatch(stderr.String())
		if m != nil {
			base = m[1]
		}
		return m != nil
	}, time.Minute, 50*time.Millisecond, "the bridge never listened: %s", stderr.String())

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	waited := e.start(t, "start", "-f", goodSpec, "--version", "v2", "--by", "ci", "--wait")
	e.waitPhase(t, "board/prod", workflows.PhaseAwaitingApproval)

	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0ALICE"}, "team": map[string]any{"id": "T0TEAM"},
		"actions": []map[string]any{{"type": "button", "block_id": "b", "action_id": slack.ActionApprove, "value": slack.ActionValue{ReleaseID: "release/board/prod"}.Encode()}},
	})
	body := url.Values{"payload": {string(payload)}}.Encode()
	post := func(sign bool) int {
		req, err := http.NewRequest(http.MethodPost, base+"/slack/actions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sign {
			stamp := strconv.FormatInt(time.Now().Unix(), 10)
			mac := hmac.New(sha256.New, []byte(secret))
			fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
			req.Header.Set("X-Slack-Request-Timestamp", stamp)
			req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, post(false))
	require.Equal(t, http.StatusOK, post(true))
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "release updated from Slack") },
		time.Minute, 50*time.Millisecond, "bridge log:\n%s", stderr.String())

	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code, res.stderr)
	st, ok := e.status(t, "board/prod")
	require.True(t, ok)
	require.True(t, func() bool {
		for _, ev := range st.Timeline {
			if ev.Kind == "approved" && ev.By == "alice" && ev.Message == "approved: from Slack" {
				return true
			}
		}
		return false
	}(), "approved by alice from Slack: %+v", st.Timeline)
}
