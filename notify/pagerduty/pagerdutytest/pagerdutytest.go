// Package pagerdutytest is a stand-in for PagerDuty's Events API v2, which cannot run
// here: an httptest server on 127.0.0.1 that implements POST /v2/enqueue, records every
// event it is sent and answers 202 as PagerDuty does. It checks what PagerDuty checks
// that matters to zerodown (JSON, routing key, event_action, summary, source, severity)
// and refuses the rest with 400.
package pagerdutytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"

	"github.com/zerodown/zerodown/notify/pagerduty"
)

// Server is the stand-in; URL() is what the worker's ZERODOWN_PAGERDUTY_URL points to.
type Server struct {
	srv        *httptest.Server
	routingKey string
	mu         sync.Mutex
	events     []pagerduty.Event
}

// New starts a stand-in that accepts events with routingKey.
func New(routingKey string) *Server {
	s := &Server{routingKey: routingKey}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/enqueue", s.enqueue)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the enqueue endpoint.
func (s *Server) URL() string { return s.srv.URL + "/v2/enqueue" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Events is every event accepted so far, in order.
func (s *Server) Events() []pagerduty.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Count is how many accepted events had dedupKey.
func (s *Server) Count(dedupKey string) int {
	n := 0
	for _, e := range s.Events() {
		if e.DedupKey == dedupKey {
			n++
		}
	}
	return n
}

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	var ev pagerduty.Event
	body, err := io.ReadAll(io.LimitReader(r.Body, 512<<10))
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	bad := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}})
	}
	switch {
	case err != nil:
		bad("body is not JSON")
		return
	case ev.RoutingKey != s.routingKey:
		bad("routing_key is invalid")
		return
	case ev.EventAction != "trigger" && ev.EventAction != "acknowledge" && ev.EventAction != "resolve":
		bad("event_action is invalid")
		return
	case ev.Payload.Summary == "" || ev.Payload.Source == "" || !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity):
		bad("payload is missing summary, source or a valid severity")
		return
	}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}
