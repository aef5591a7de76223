package sentrytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/sentrytest"
)

const token = "sntrys_stand-in-token-0123456789"

func get(t *testing.T, s *sentrytest.Server, path string, q url.Values, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp
}

// What the real sentry-go SDK sends is what the stand-in answers about: errors grouped
// into an issue with its first release, transactions counted, by release.
func TestIngestsWhatSentryGoSends(t *testing.T) {
	s, err := sentrytest.Start("acme", "board", token)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	for _, release := range []string{"v1", "v2"} {
		client, err := sentry.NewClient(sentry.ClientOptions{Dsn: s.DSN(), Release: release, Environment: "prod",
			EnableTracing: true, TracesSampleRate: 1})
		require.NoError(t, err)
		hub := sentry.NewHub(client, sentry.NewScope())
		ctx := sentry.SetHubOnContext(context.Background(), hub)
		for range 3 {
			tx := sentry.StartTransaction(ctx, "GET /items")
			tx.Finish()
		}
		hub.CaptureException(errors.New("cache inconsistent"))
		require.True(t, client.Flush(10*time.Second))
	}
	require.Eventually(t, func() bool {
		return s.Count(sentrytest.EventTypeTransaction, "") == 6 && s.Count(sentrytest.EventTypeError, "") == 2
	}, 10*time.Second, 50*time.Millisecond)

	issues := s.Issues()
	require.Len(t, issues, 1, "the same error from two releases is one issue")
	require.Equal(t, "v1", issues[0].FirstRelease)
	require.Equal(t, 2, issues[0].Count)
	require.Contains(t, issues[0].Title, "cache inconsistent")

	var list []map[string]any
	q := url.Values{"query": {`firstRelease:"v2"`}}
	require.Equal(t, http.StatusOK, get(t, s, "/api/0/projects/acme/board/issues/", q, &list).StatusCode)
	require.Empty(t, list, "v2 introduced nothing")
	q.Set("query", `firstRelease:"v1" lastSeen:>=`+time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05"))
	get(t, s, "/api/0/projects/acme/board/issues/", q, &list)
	require.Len(t, list, 1)
	require.Equal(t, "2", list[0]["count"], "Sentry sends counts as strings")

	now := time.Now()
	var stats struct {
		Data [][2]json.RawMessage `json:"data"`
	}
	q = url.Values{"query": {`project:board release:"v2" event.type:transaction`}, "yAxis": {"count()"}, "interval": {"1m"},
		"start": {now.Add(-time.Hour).UTC().Format(time.RFC3339)}, "end": {now.Add(time.Minute).UTC().Format(time.RFC3339)},
		"environment": {"prod"}}
	require.Equal(t, http.StatusOK, get(t, s, "/api/0/organizations/acme/events-stats/", q, &stats).StatusCode)
	total := 0
	for _, d := range stats.Data {
		var c []struct{ Count int }
		require.NoError(t, json.Unmarshal(d[1], &c))
		total += c[0].Count
	}
	require.Equal(t, 3, total)
}

// The stand-in refuses what it would otherwise ignore, as Sentry refuses an invalid
// search, and asks for the token.
func TestRefusesUnknownSearchesAndMissingTokens(t *testing.T) {
	s, err := sentrytest.Start("acme", "board", token)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	var body map[string]string
	resp := get(t, s, "/api/0/projects/acme/board/issues/", url.Values{"query": {"browser.name:Chrome"}}, &body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body["detail"], `unsupported field "browser.name"`)

	resp, err = http.Get(s.URL() + "/api/0/projects/acme/board/issues/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = http.Post(s.URL()+"/api/42/envelope/", "application/x-sentry-envelope", strings.NewReader("{}\n"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no DSN key")
}
