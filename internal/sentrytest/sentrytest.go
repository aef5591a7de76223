// Package sentrytest stands in for Sentry, which cannot run here (it is a SaaS, and its
// self-hosted form is dozens of containers). It is NOT Sentry: it implements only what
// zerodown touches, on 127.0.0.1:
//
//   - the ingestion endpoint the real sentry-go SDK posts envelopes to
//     (POST /api/{projectID}/envelope/, authenticated by the DSN's public key), keeping
//     error events and transactions with their release, environment and timestamp, and
//     grouping errors into issues (by fingerprint when the SDK sets one, else by the
//     exception's type and message: Sentry groups by stack trace, which is finer);
//   - the two web API endpoints the sentry analysis provider asks (bearer token):
//     GET /api/0/organizations/{org}/events-stats/ (count() per interval bucket, for a
//     query of release:, event.type: and project: terms) and
//     GET /api/0/projects/{org}/{project}/issues/ (for a query of firstRelease:,
//     firstSeen: and lastSeen: terms, 100 per page with Sentry's Link-header cursors).
//
// Answers are computed from what was ingested, in the shapes Sentry's documentation
// gives; a query term it does not know is refused with 400, as Sentry refuses invalid
// searches, so a provider cannot silently ask for something the stand-in ignores.
package sentrytest

import (
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Event is one ingested error event or transaction.
type Event struct {
	ID          string
	Type        string // EventTypeError or EventTypeTransaction
	Release     string
	Environment string
	Time        time.Time
	IssueID     string // errors only
}

// Event types, as Sentry's event.type search term names them.
const (
	EventTypeError       = "error"
	EventTypeTransaction = "transaction"
)

// Issue is a group of error events with one fingerprint.
type Issue struct {
	ID           string
	Title        string
	Fingerprint  string
	FirstRelease string
	FirstSeen    time.Time
	LastSeen     time.Time
	Count        int
}

// Server is the stand-in. Start it with Start; it listens until Close.
type Server struct {
	Org, Project string
	ProjectID    string // the DSN's project id
	PublicKey    string // the DSN's key
	Token        string // the web API's bearer token

	// MaxEnvelopeBytes bounds one envelope; larger ones are refused with 413 as Sentry does.
	MaxEnvelopeBytes int64

	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	events   []Event
	issues   map[string]*Issue // by fingerprint
	requests []string          // web API request URIs, for tests
}

// Start serves a stand-in for organisation org's project on 127.0.0.1, whose web API
// accepts token.
func Start(org, project, token string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Org: org, Project: project, ProjectID: "42", PublicKey: "0123456789abcdef0123456789abcdef",
		Token: token, MaxEnvelopeBytes: 1 << 20, ln: ln, issues: map[string]*Issue{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{project}/envelope/", s.ingest)
	mux.HandleFunc("GET /api/0/organizations/{org}/events-stats/", s.authed(s.eventsStats))
	mux.HandleFunc("GET /api/0/projects/{org}/{project}/issues/", s.authed(s.projectIssues))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL of the web API (what canary.analysis.sentry.url holds).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// DSN is the DSN an SDK reports to.
func (s *Server) DSN() string {
	return "http://" + s.PublicKey + "@" + s.ln.Addr().String() + "/" + s.ProjectID
}

// Close stops serving.
func (s *Server) Close() error { return s.srv.Close() }

// Count counts the ingested events of a type and release ("" for any release).
func (s *Server) Count(eventType, release string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if e.Type == eventType && (release == "" || e.Release == release) {
			n++
		}
	}
	return n
}

// Issues lists the issues, oldest first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Issue, 0, len(s.issues))
	for _, is := range s.issues {
		out = append(out, *is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Requests lists the web API request URIs received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Add records an event as if ingested, for tests that need events at chosen times
// (the SDK stamps events with the present).
func (s *Server) Add(e Event, fingerprint, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(e, fingerprint, title)
}

// record keeps an event and, for an error, updates its issue. Callers hold mu.
func (s *Server) record(e Event, fingerprint, title string) {
	if e.Type == EventTypeError {
		is, ok := s.issues[fingerprint]
		if !ok {
			is = &Issue{ID: issueID(len(s.issues) + 1), Title: title, Fingerprint: fingerprint,
				FirstRelease: e.Release, FirstSeen: e.Time, LastSeen: e.Time}
			s.issues[fingerprint] = is
		}
		if e.Time.Before(is.FirstSeen) {
			is.FirstSeen, is.FirstRelease = e.Time, e.Release
		}
		if e.Time.After(is.LastSeen) {
			is.LastSeen = e.Time
		}
		is.Count++
		e.IssueID = is.ID
	}
	s.events = append(s.events, e)
}

// issueID numbers issues with zero-padded decimal ids, so that they sort as strings.
func issueID(n int) string {
	const digits = "0123456789"
	b := []byte("1000000000")
	for i := len(b) - 1; n > 0 && i > 0; i-- {
		b[i] = digits[n%10]
		n /= 10
	}
	return string(b)
}
