package pagerduty_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/pagerduty"
	"github.com/zerodown/zerodown/notify/pagerduty/pagerdutytest"
)

// The stand-in (pagerdutytest) takes PagerDuty's place: PagerDuty cannot run here.
func TestPageTriggersWithDedupKey(t *testing.T) {
	pd := pagerdutytest.New("routing-secret")
	defer pd.Close()
	p := pagerduty.New(pd.URL(), "routing-secret", nil)
	err := p.Page(context.Background(), notify.Page{DedupKey: "release/api/prod/afterSoak/escalated", Summary: "nobody approved", Source: "release/api/prod", Severity: notify.SeverityCritical})
	require.NoError(t, err)
	ev := pd.Events()
	require.Len(t, ev, 1)
	require.Equal(t, "trigger", ev[0].EventAction)
	require.Equal(t, "release/api/prod/afterSoak/escalated", ev[0].DedupKey)
	require.Equal(t, "routing-secret", ev[0].RoutingKey)
	require.Equal(t, pagerduty.Payload{Summary: "nobody approved", Source: "release/api/prod", Severity: "critical"}, ev[0].Payload)
}

func TestPageRefusedIsPermanentAndKeepsTheKeyOut(t *testing.T) {
	pd := pagerdutytest.New("the-right-key")
	defer pd.Close()
	p := pagerduty.New(pd.URL(), "a-wrong-key-secret", nil)
	err := p.Page(context.Background(), notify.Page{DedupKey: "k", Summary: "s", Source: "src", Severity: notify.SeverityWarning})
	require.Error(t, err)
	require.True(t, notify.IsPermanent(err))
	require.NotContains(t, err.Error(), "a-wrong-key-secret")
	require.Empty(t, pd.Events())
}

// PagerDuty's own failures (5xx, 429) are worth retrying; the retry is safe because the
// dedup key makes it the same incident.
func TestPageServerErrorsAreRetryable(t *testing.T) {
	for status, after := range map[int]time.Duration{http.StatusServiceUnavailable: 0, http.StatusTooManyRequests: 3 * time.Second} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(status)
		}))
		err := pagerduty.New(srv.URL, "k", nil).Page(context.Background(), notify.Page{DedupKey: "k", Summary: "s", Source: "src", Severity: notify.SeverityInfo})
		srv.Close()
		require.Error(t, err)
		require.False(t, notify.IsPermanent(err), "%d", status)
		require.Equal(t, after, notify.RetryAfter(err), "%d", status)
	}
}
