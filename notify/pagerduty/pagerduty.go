// Package pagerduty pages through the PagerDuty Events API v2: one trigger event per page,
// keyed by the page's dedup key, so that a page sent again is the same incident. The
// routing key is the worker's secret: it is given to New, never taken from a spec, and no
// error or log line of this package contains it.
package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/zerodown/zerodown/notify"
)

// DefaultURL is PagerDuty's Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Limits PagerDuty sets on an event's fields.
const (
	maxSummary  = 1024
	maxDedupKey = 255
	maxSource   = 255
)

// Pager posts pages to one Events API v2 endpoint with one routing key.
type Pager struct {
	url        string
	routingKey string
	http       *http.Client
}

// New returns a Pager posting to url (DefaultURL when empty) with routingKey.
func New(url, routingKey string, client *http.Client) *Pager {
	if url == "" {
		url = DefaultURL
	}
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	return &Pager{url: url, routingKey: routingKey, http: client}
}

// Event is the Events API v2 trigger event.
type Event struct {
	RoutingKey  string  `json:"routing_key"`
	EventAction string  `json:"event_action"`
	DedupKey    string  `json:"dedup_key"`
	Payload     Payload `json:"payload"`
}

// Payload is what the incident says.
type Payload struct {
	Summary  string `json:"summary"`
	Source   string `json:"source"`
	Severity string `json:"severity"`
}

// Page triggers an incident. 2xx is done; 429 and 5xx are worth retrying; other answers
// (a bad routing key, a malformed event) are permanent.
func (p *Pager) Page(ctx context.Context, pg notify.Page) error {
	body, err := json.Marshal(Event{
		RoutingKey: p.routingKey, EventAction: "trigger", DedupKey: cut(pg.DedupKey, maxDedupKey),
		Payload: Payload{Summary: cut(pg.Summary, maxSummary), Source: cut(pg.Source, maxSource), Severity: pg.Severity},
	})
	if err != nil {
		return &notify.Error{Op: "page", Permanent: true, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return &notify.Error{Op: "page", Permanent: true, Err: errors.New("bad PagerDuty URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		// The URL may hold nothing secret, but the error is kept to what happened.
		return &notify.Error{Op: "page", Err: fmt.Errorf("POST to PagerDuty: %w", unwrapURL(err))}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &notify.Error{Op: "page", RetryAfter: time.Duration(wait) * time.Second, Err: fmt.Errorf("PagerDuty answered %s", resp.Status)}
	case resp.StatusCode >= 500:
		return &notify.Error{Op: "page", Err: fmt.Errorf("PagerDuty answered %s", resp.Status)}
	}
	return &notify.Error{Op: "page", Permanent: true, Err: fmt.Errorf("PagerDuty refused the event: %s: %s", resp.Status, redactKey(string(msg), p.routingKey))}
}

// unwrapURL drops the *url.Error wrapping, which repeats the URL.
func unwrapURL(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// redactKey keeps the routing key out of an answer that echoes it.
func redactKey(s, key string) string {
	if key == "" {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte(key), []byte("[redacted]")))
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
