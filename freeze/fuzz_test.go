package freeze_test

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zerodown/zerodown/freeze"
)

// FuzzRequests feeds arbitrary JSON to every freeze request's check, as a client of the
// namespace could send it: nothing panics, and whatever is accepted keeps the ledger's
// promises (an end after the start and after now, bounded UTF-8 text, a known freeze).
func FuzzRequests(f *testing.F) {
	f.Add(`{"by":"carol","from":"2026-12-24T09:00:00Z","until":"2026-12-24T12:00:00Z","reason":"sale"}`, "prod-1")
	f.Add(`{"by":"x","from":"2026-12-24T12:00:00Z","until":"2026-12-24T09:00:00Z","reason":"r","id":"prod-1","target":"release/a/prod"}`, "")
	f.Add(`{"by":"x","from":"2026-12-24T12:00:00Z","until":"2026-12-24T11:00:00Z","reason":"r"}`, "prod-2")
	f.Add(`{"by":"\u0000","until":"9999-12-31T23:59:59Z","reason":"\xff","target":"change/x"}`, "prod-9")
	f.Fuzz(func(t *testing.T, payload, id string) {
		l := &freeze.Ledger{Environment: "prod"}
		l.Declare(freeze.DeclareRequest{By: "carol", From: t0, Until: t0.Add(time.Hour), Reason: "sale"}, t0)
		var d freeze.DeclareRequest
		if json.Unmarshal([]byte(payload), &d) == nil && l.CheckDeclare(d, t0) == nil {
			if !d.Until.After(d.From) || !d.Until.After(t0) || len(d.Reason) > freeze.MaxReasonLen || !utf8.ValidString(d.Reason) || d.By == "" {
				t.Fatalf("declare accepted %+v", d)
			}
			l.Declare(d, t0)
		}
		var e freeze.ExtendRequest
		if json.Unmarshal([]byte(payload), &e) == nil {
			e.ID = id
			if l.CheckExtend(e, t0) == nil {
				if e.ID != "prod-1" && e.ID != "prod-2" || !e.Until.After(t0) {
					t.Fatalf("extend accepted %+v", e)
				}
				l.Extend(e, t0)
			}
		}
		var o freeze.OverrideRequest
		if json.Unmarshal([]byte(payload), &o) == nil && l.CheckOverride(o, t0) == nil {
			if len(o.Target) > freeze.MaxTargetLen || o.Reason == "" {
				t.Fatalf("override accepted %+v", o)
			}
			l.Override(o, t0)
		}
		var r freeze.LiftRequest
		if json.Unmarshal([]byte(payload), &r) == nil {
			r.ID = id
			if l.CheckLift(r) == nil {
				l.Lift(r, t0)
			}
		}
		_ = l.StateAt(t0.Add(30*time.Minute), o.Target)
		if len(l.Freezes) > 2 {
			t.Fatalf("%d freezes after at most one declaration", len(l.Freezes))
		}
	})
}
