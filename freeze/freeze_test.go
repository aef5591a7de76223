package freeze_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/freeze"
)

var t0 = time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)

func declare(t *testing.T, l *freeze.Ledger, by string, from, until time.Duration, reason string) freeze.Freeze {
	t.Helper()
	req := freeze.DeclareRequest{By: by, From: t0.Add(from), Until: t0.Add(until), Reason: reason}
	require.NoError(t, l.CheckDeclare(req, t0))
	return l.Declare(req, t0)
}

// Frozen from `from` (included) to `until` (excluded); freezes that touch or overlap end
// together; an override lets only its target pass, and only when every freeze in force
// has one.
func TestStateAt(t *testing.T) {
	l := &freeze.Ledger{Environment: "prod"}
	a := declare(t, l, "carol", time.Hour, 3*time.Hour, "sale")
	b := declare(t, l, "dave", 3*time.Hour, 5*time.Hour, "stocktake")
	declare(t, l, "dave", 10*time.Hour, 11*time.Hour, "later")

	require.False(t, l.StateAt(t0, "").Frozen)
	st := l.StateAt(t0.Add(time.Hour), "release/board/prod")
	require.True(t, st.Frozen)
	require.Equal(t, []string{a.ID}, st.IDs)
	require.Equal(t, t0.Add(5*time.Hour), st.Until, "the next freeze starts as this one ends: free only at its end")
	require.False(t, st.Overridden)
	require.False(t, l.StateAt(t0.Add(5*time.Hour), "").Frozen)

	o := freeze.OverrideRequest{By: "erin", ID: a.ID, Target: "release/board/prod", Reason: "outage fix"}
	require.NoError(t, l.CheckOverride(o, t0))
	l.Override(o, t0)
	require.True(t, l.StateAt(t0.Add(2*time.Hour), "release/board/prod").Overridden)
	require.False(t, l.StateAt(t0.Add(2*time.Hour), "release/web/prod").Overridden)
	require.False(t, l.StateAt(t0.Add(4*time.Hour), "release/board/prod").Overridden, "the override was for %s only, not %s", a.ID, b.ID)

	// Without an ID, an override covers every freeze not yet over.
	l.Override(freeze.OverrideRequest{By: "erin", Target: "change/night", Reason: "all night"}, t0)
	require.True(t, l.StateAt(t0.Add(4*time.Hour), "change/night").Overridden)
	require.True(t, l.StateAt(t0.Add(10*time.Hour), "change/night").Overridden)

	require.Equal(t, 2, l.Expire(t0.Add(5*time.Hour)))
	require.Len(t, l.Freezes, 1)
}

// Hostile and mistaken requests are refused naming the field.
func TestChecksNameTheField(t *testing.T) {
	l := &freeze.Ledger{Environment: "prod"}
	f := declare(t, l, "carol", 0, time.Hour, "sale")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0, Until: t0.Add(-time.Hour), Reason: "r"}, t0), "until: "},
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0.Add(-2 * time.Hour), Until: t0.Add(-time.Hour), Reason: "r"}, t0), "is already past"},
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0, Until: t0.Add(400 * 24 * time.Hour), Reason: "r"}, t0), "at most 8784h0m0s"},
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", Until: t0.Add(time.Hour), Reason: "r"}, t0), "from: required"},
		{l.CheckDeclare(freeze.DeclareRequest{By: "", From: t0, Until: t0.Add(time.Hour), Reason: "r"}, t0), "by: required"},
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0, Until: t0.Add(time.Hour), Reason: strings.Repeat("r", 100<<10)}, t0), "reason: 102400 bytes, at most 4096"},
		{l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0, Until: t0.Add(time.Hour), Reason: "\xff"}, t0), "reason: not valid UTF-8"},
		{l.CheckLift(freeze.LiftRequest{By: "x", ID: "prod-9", Reason: "r"}), `id: prod has no freeze "prod-9"`},
		{l.CheckLift(freeze.LiftRequest{By: "x", ID: f.ID}), "reason: required"},
		{l.CheckExtend(freeze.ExtendRequest{By: "x", ID: f.ID, Until: t0.Add(-time.Minute), Reason: "r"}, t0), "until: "},
		{l.CheckOverride(freeze.OverrideRequest{By: "x", Target: "board", Reason: "r"}, t0), "target: "},
		{l.CheckOverride(freeze.OverrideRequest{By: "x", ID: "nope", Target: "release/a/prod", Reason: "r"}, t0), `id: prod has no freeze "nope"`},
	} {
		require.ErrorContains(t, tc.err, tc.want)
	}
	for range freeze.MaxFreezes - 1 {
		declare(t, l, "carol", 0, time.Hour, "sale")
	}
	require.ErrorContains(t, l.CheckDeclare(freeze.DeclareRequest{By: "x", From: t0, Until: t0.Add(time.Hour), Reason: "r"}, t0), "freezes: prod already has 100 freezes, at most 100")
}
