package sentry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/sentry"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/sentrytest"
	"github.com/zerodown/zerodown/schemas"
)

const token = "sntrys_test-token-value-0123456789"

// now is the check's time in these tests: a whole minute, so steps align with buckets.
var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func analyzer(tok string) *sentry.Analyzer {
	a := sentry.New()
	a.Now = func() time.Time { return now }
	a.Getenv = func(name string) string {
		if name == schemas.SentryTokenEnv {
			return tok
		}
		return ""
	}
	return a
}

func spec(url string, metrics ...schemas.Metric) schemas.Analysis {
	return schemas.Analysis{
		Provider: schemas.AnalysisSentry, Interval: schemas.Duration(time.Minute), Step: schemas.Duration(10 * time.Second),
		Sentry:  &schemas.Sentry{URL: url, Organization: "acme", Project: "board"},
		Metrics: metrics,
	}
}

var (
	newIssues = schemas.Metric{Name: "new-issues", Query: schemas.SentryNewIssues, Max: ptr(0), MinSamples: 3, NoData: schemas.NoDataInconclusive}
	errorRate = schemas.Metric{Name: "errors-per-request", Query: schemas.SentryErrorsPerRequest, Max: ptr(0.2), VsBaseline: 2,
		BaselineFloor: 0.01, MinSamples: 3, NoData: schemas.NoDataInconclusive}
)

func request(s schemas.Analysis, version string) analysis.Request {
	return analysis.Request{Spec: s, Version: version, BaselineVersion: "v1",
		Canary:   []fleet.Instance{{ID: "c1", Version: version, Healthy: true}},
		Baseline: []fleet.Instance{{ID: "b1", Version: "v1", Healthy: true}, {ID: "b2", Version: "v1", Healthy: true}}}
}

// traffic records, for each of the last six 10 s steps before now, reqs transactions of
// release and errs error events of the given fingerprint.
func traffic(s *sentrytest.Server, release string, reqs, errs int, fingerprint string) {
	for step := range 6 {
		at := now.Add(-time.Minute + time.Duration(step)*10*time.Second + time.Second)
		for i := range reqs {
			s.Add(sentrytest.Event{Type: sentrytest.EventTypeTransaction, Release: release, Time: at.Add(time.Duration(i) * time.Millisecond)}, "", "")
		}
		for i := range errs {
			s.Add(sentrytest.Event{Type: sentrytest.EventTypeError, Release: release, Time: at.Add(time.Duration(i) * time.Millisecond)}, fingerprint, fingerprint)
		}
	}
}

func start(t *testing.T) *sentrytest.Server {
	t.Helper()
	s, err := sentrytest.Start("acme", "board", token)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	// The baseline's errors: an old issue, first seen in v0 an hour ago, still occurring.
	s.Add(sentrytest.Event{Type: sentrytest.EventTypeError, Release: "v0", Time: now.Add(-time.Hour)}, "old-timeout", "old timeout")
	traffic(s, "v1", 10, 1, "old-timeout")
	return s
}

func TestBadCanaryFailsOnItsNewIssueAndErrorRate(t *testing.T) {
	s := start(t)
	traffic(s, "v2", 10, 5, "nil-pointer") // half the requests fail with an issue v2 introduced
	res, err := analyzer(token).Analyze(context.Background(), request(spec(s.URL(), newIssues, errorRate), "v2"))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)

	issues, rate := res.Metrics[0], res.Metrics[1]
	require.Equal(t, analysis.Fail, issues.Verdict, issues.Reason)
	require.Equal(t, 1.0, issues.Canary, "one issue first seen in v2")
	require.Equal(t, 0.0, issues.Baseline, "v1 introduced none: its only issue was first seen in v0")
	require.Equal(t, 6, issues.CanarySamples, "one sample per step Sentry heard from v2 in")

	require.Equal(t, analysis.Fail, rate.Verdict, rate.Reason)
	require.InDelta(t, 0.5, rate.Canary, 1e-9)
	require.InDelta(t, 0.1, rate.Baseline, 1e-9)
	require.Contains(t, rate.Reason, "canary 0.5 > max 0.2")
	require.Contains(t, rate.Reason, "canary 0.5 > 2 x baseline 0.1")

	// What was asked: the real endpoints, each side by its release.
	reqs := strings.Join(s.Requests(), "\n")
	require.Contains(t, reqs, "/api/0/organizations/acme/events-stats/?")
	require.Contains(t, reqs, "/api/0/projects/acme/board/issues/?")
	require.Contains(t, reqs, "release%3A%22v2%22")
	require.Contains(t, reqs, "firstRelease%3A%22v1%22")
}

func TestGoodCanaryPasses(t *testing.T) {
	s := start(t)
	traffic(s, "v2", 10, 1, "old-timeout") // the old issue at the baseline's rate, nothing new
	res, err := analyzer(token).Analyze(context.Background(), request(spec(s.URL(), newIssues, errorRate), "v2"))
	require.NoError(t, err)
	require.Equal(t, analysis.Pass, res.Verdict, res.Summary)
	require.Equal(t, 0.0, res.Metrics[0].Canary)
	require.InDelta(t, 0.1, res.Metrics[1].Canary, 1e-9)
}

// A release Sentry never heard from (its SDK sets no release, or reports nowhere) has
// no data, and its noData policy decides; it never passes as "no errors".
func TestSilentCanaryIsNoData(t *testing.T) {
	s := start(t)
	m := newIssues
	m.NoData = schemas.NoDataFail
	res, err := analyzer(token).Analyze(context.Background(), request(spec(s.URL(), m, errorRate), "v2"))
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	require.Contains(t, res.Metrics[0].Reason, `no data for the canary (Sentry has no event of release "v2"`)
	require.Equal(t, analysis.Inconclusive, res.Metrics[1].Verdict, res.Metrics[1].Reason)
}

// Errors without transactions: the SDK's tracing is off, so there are no requests to
// divide by; the hint says so.
func TestErrorsWithoutTransactionsHaveNoRate(t *testing.T) {
	s := start(t)
	traffic(s, "v2", 0, 3, "nil-pointer")
	res, err := analyzer(token).Analyze(context.Background(), request(spec(s.URL(), errorRate), "v2"))
	require.NoError(t, err)
	require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "TracesSampleRate")
}

// After the promote no baseline serves: absolute bounds still judge.
func TestNoBaselineJudgesBoundsOnly(t *testing.T) {
	s := start(t)
	traffic(s, "v2", 10, 5, "nil-pointer")
	req := request(spec(s.URL(), newIssues, errorRate), "v2")
	req.Baseline = nil
	res, err := analyzer(token).Analyze(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, analysis.Fail, res.Verdict, res.Summary)
	for _, r := range s.Requests() {
		require.NotContains(t, r, "v1", "no baseline instance: the baseline release is not asked about")
	}
}

func TestManyNewIssuesAreReadAcrossPages(t *testing.T) {
	s := start(t)
	for i := range 250 {
		at := now.Add(-30*time.Second + time.Duration(i)*time.Millisecond)
		s.Add(sentrytest.Event{Type: sentrytest.EventTypeError, Release: "v2", Time: at}, fmt.Sprint("bug-", i), fmt.Sprint("bug ", i))
	}
	res, err := analyzer(token).Analyze(context.Background(), request(spec(s.URL(), newIssues), "v2"))
	require.NoError(t, err)
	require.Equal(t, 250.0, res.Metrics[0].Canary, res.Summary)
}

func TestTokenComesFromTheEnvironmentAndStaysSecret(t *testing.T) {
	s := start(t)
	traffic(s, "v2", 10, 0, "")

	_, err := analyzer("").Analyze(context.Background(), request(spec(s.URL(), errorRate), "v2"))
	require.ErrorIs(t, err, analysis.ErrInvalidConfig)
	require.ErrorIs(t, err, fleet.ErrInvalidConfig, "the Check activity does not retry it")
	require.Contains(t, err.Error(), "SENTRY_AUTH_TOKEN")

	wrong := "sntrys_wrong-token-value-9876543210"
	_, err = analyzer(wrong).Analyze(context.Background(), request(spec(s.URL(), errorRate), "v2"))
	require.ErrorIs(t, err, analysis.ErrInvalidConfig)
	require.Contains(t, err.Error(), "answered 401")
	require.NotContains(t, err.Error(), wrong)

	sp := spec(s.URL(), errorRate)
	sp.Sentry.Organization = "other"
	_, err = analyzer(token).Analyze(context.Background(), request(sp, "v2"))
	require.ErrorIs(t, err, analysis.ErrInvalidConfig)
	require.Contains(t, err.Error(), "canary.analysis.sentry.organization and project")

	sp.Sentry = nil
	_, err = analyzer(token).Analyze(context.Background(), request(sp, "v2"))
	require.ErrorIs(t, err, analysis.ErrInvalidConfig)
	require.Contains(t, err.Error(), "canary.analysis.sentry")
}

// An outage of Sentry is not evidence about the canary: the metric is inconclusive.
func TestSentryDownIsInconclusive(t *testing.T) {
	s := start(t)
	url := s.URL()
	require.NoError(t, s.Close())
	res, err := analyzer(token).Analyze(context.Background(), request(spec(url, errorRate), "v2"))
	require.NoError(t, err)
	require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
	require.Contains(t, res.Summary, "measurement failed: sentry /api/0/organizations/acme/events-stats/")
	require.NotContains(t, res.Summary, token)
}

// Hostile answers: too large, too slow, or a next page on another host (which would
// take the token there) are refused, each within its bound.
func TestHostileAnswersAreBounded(t *testing.T) {
	var sawToken atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), token) {
			sawToken.Store(true)
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(elsewhere.Close)
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "events-stats") && strings.Contains(r.URL.Query().Get("query"), "big"):
			_, _ = w.Write([]byte(`{"data": [` + strings.Repeat(`[1, [{"count": 1}]],`, sentry.MaxResponseBytes/20) + `]}`))
		case strings.Contains(r.URL.Path, "events-stats") && strings.Contains(r.URL.Query().Get("query"), "slow"):
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		case strings.Contains(r.URL.Path, "events-stats"):
			_, _ = fmt.Fprintf(w, `{"data": [[%d, [{"count": 1}]]]}`, now.Add(-10*time.Second).Unix())
		default:
			w.Header().Set("Link", `<`+elsewhere.URL+`/api/0/projects/acme/board/issues/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"`)
			_, _ = w.Write([]byte("[]"))
		}
	}))
	t.Cleanup(hostile.Close)

	a := analyzer(token)
	a.RequestTimeout = 500 * time.Millisecond
	check := func(version string, m schemas.Metric) analysis.Result {
		t.Helper()
		res, err := a.Analyze(context.Background(), request(spec(hostile.URL, m), version))
		require.NoError(t, err)
		require.Equal(t, analysis.Inconclusive, res.Verdict, res.Summary)
		require.NotContains(t, res.Summary, token)
		return res
	}
	require.Contains(t, check("big", errorRate).Summary, fmt.Sprintf("answer larger than %d bytes", sentry.MaxResponseBytes))
	require.Contains(t, check("slow", errorRate).Summary, "deadline exceeded")
	require.Contains(t, check("v2", newIssues).Summary, "not following it with the token")
	require.False(t, sawToken.Load(), "the token went to another host")
}
