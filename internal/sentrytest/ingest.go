package sentrytest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ingest takes an envelope (https://develop.sentry.dev/sdk/envelopes/): a header line,
// then items, each an item header line and a payload of the header's length (or up to
// the next newline when the header has none).
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("project") != s.ProjectID {
		apiError(w, http.StatusNotFound, "unknown project")
		return
	}
	if key := dsnKey(r); key != s.PublicKey {
		apiError(w, http.StatusUnauthorized, "invalid sentry_key")
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, s.MaxEnvelopeBytes)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad gzip: "+err.Error())
			return
		}
		body = io.LimitReader(zr, s.MaxEnvelopeBytes+1)
	}
	raw, err := io.ReadAll(body)
	if err != nil || int64(len(raw)) > s.MaxEnvelopeBytes {
		apiError(w, http.StatusRequestEntityTooLarge, "envelope too large")
		return
	}
	items, err := parseEnvelope(raw)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad envelope: "+err.Error())
		return
	}
	received := time.Now()
	s.mu.Lock()
	var id string
	for _, it := range items {
		e, fp, title, ok := toEvent(it, received)
		if !ok {
			continue // client reports, sessions, logs: not what the stand-in answers about
		}
		id = e.ID
		s.record(e, fp, title)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
}

// dsnKey is the public key from X-Sentry-Auth ("Sentry sentry_key=…, sentry_version=7")
// or the sentry_key query parameter.
func dsnKey(r *http.Request) string {
	if k := r.URL.Query().Get("sentry_key"); k != "" {
		return k
	}
	for part := range strings.SplitSeq(strings.TrimPrefix(r.Header.Get("X-Sentry-Auth"), "Sentry "), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "sentry_key" {
			return v
		}
	}
	return ""
}

type envelopeItem struct {
	Type    string
	Payload []byte
}

func parseEnvelope(raw []byte) ([]envelopeItem, error) {
	rd := bufio.NewReader(bytes.NewReader(raw))
	if _, err := rd.ReadBytes('\n'); err != nil && err != io.EOF {
		return nil, err
	}
	var items []envelopeItem
	for {
		line, err := rd.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				return items, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		var h struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if jerr := json.Unmarshal(line, &h); jerr != nil {
			return nil, fmt.Errorf("item header: %v", jerr)
		}
		var payload []byte
		if h.Length != nil {
			if *h.Length < 0 || *h.Length > len(raw) {
				return nil, fmt.Errorf("item length %d out of range", *h.Length)
			}
			payload = make([]byte, *h.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				return nil, fmt.Errorf("item of type %s: %v", h.Type, err)
			}
			if b, err := rd.Peek(1); err == nil && b[0] == '\n' {
				_, _ = rd.ReadByte()
			}
		} else {
			payload, err = rd.ReadBytes('\n')
			if err != nil && err != io.EOF {
				return nil, err
			}
			payload = bytes.TrimSpace(payload)
		}
		items = append(items, envelopeItem{Type: h.Type, Payload: payload})
	}
}

// wireEvent is what the stand-in reads of an event or transaction payload.
type wireEvent struct {
	EventID     string          `json:"event_id"`
	Type        string          `json:"type"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Release     string          `json:"release"`
	Environment string          `json:"environment"`
	Message     string          `json:"message"`
	Fingerprint []string        `json:"fingerprint"`
	Exception   json.RawMessage `json:"exception"`
}

type wireException struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func toEvent(it envelopeItem, received time.Time) (Event, string, string, bool) {
	var kind string
	switch it.Type {
	case "event":
		kind = EventTypeError
	case "transaction":
		kind = EventTypeTransaction
	default:
		return Event{}, "", "", false
	}
	var we wireEvent
	if err := json.Unmarshal(it.Payload, &we); err != nil {
		return Event{}, "", "", false
	}
	e := Event{ID: we.EventID, Type: kind, Release: we.Release, Environment: we.Environment, Time: parseTime(we.Timestamp, received)}
	if kind != EventTypeError {
		return e, "", "", true
	}
	title := we.Message
	if ex, ok := lastException(we.Exception); ok {
		title = ex.Type + ": " + ex.Value
	}
	fp := title
	if len(we.Fingerprint) > 0 && !(len(we.Fingerprint) == 1 && we.Fingerprint[0] == "{{ default }}") {
		fp = strings.Join(we.Fingerprint, "\x00")
	}
	return e, fp, title, true
}

// lastException is the top-level exception: the protocol lists the chain innermost first,
// as a list or as {"values": [...]}.
func lastException(raw json.RawMessage) (wireException, bool) {
	var list []wireException
	if err := json.Unmarshal(raw, &list); err != nil {
		var wrapped struct {
			Values []wireException `json:"values"`
		}
		if json.Unmarshal(raw, &wrapped) != nil {
			return wireException{}, false
		}
		list = wrapped.Values
	}
	if len(list) == 0 {
		return wireException{}, false
	}
	return list[len(list)-1], true
}

// parseTime reads a timestamp as RFC 3339 or as seconds since the epoch; without one,
// the event happened when it was received.
func parseTime(raw json.RawMessage, received time.Time) time.Time {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return time.Unix(0, int64(f*1e9))
		}
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil && f > 0 {
		return time.Unix(0, int64(f*1e9))
	}
	return received
}

// apiError answers as Sentry does: {"detail": "..."}.
func apiError(w http.ResponseWriter, code int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"detail": detail})
}

var errBadQuery = errors.New("invalid query")
