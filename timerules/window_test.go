package timerules_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zerodown/zerodown/timerules"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// night004 is the window of 004's nights: Tuesday to Friday, 01:30 to 05:00 in London.
var night004 = []timerules.Window{{Days: []string{"tue", "wed", "thu", "fri"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"}}

func TestNextOpenAndClosesAt(t *testing.T) {
	sunNight := func(zone, from, until string) []timerules.Window {
		return []timerules.Window{{Days: []string{"sun"}, From: from, Until: until, Timezone: zone}}
	}
	for _, tc := range []struct {
		name       string
		windows    []timerules.Window
		at         string
		wantOpen   string // NextOpen
		wantCloses string // ClosesAt(NextOpen)
	}{
		{"004: Monday afternoon waits for Tuesday 01:30 (GMT in winter)", night004,
			"2026-11-30T15:00:00Z", "2026-12-01T01:30:00Z", "2026-12-01T05:00:00Z"},
		{"004: in summer 01:30 London is 00:30 UTC", night004,
			"2026-06-29T12:00:00Z", "2026-06-30T00:30:00Z", "2026-06-30T04:00:00Z"},
		{"004: open at 03:00 is open now and closes at 05:00", night004,
			"2026-12-02T03:00:00Z", "2026-12-02T03:00:00Z", "2026-12-02T05:00:00Z"},
		{"004: Friday after 05:00 waits over the weekend for Tuesday", night004,
			"2026-12-04T05:00:00Z", "2026-12-08T01:30:00Z", "2026-12-08T05:00:00Z"},
		{"London spring forward: 01:30 does not exist, opens at 02:00 BST", sunNight("Europe/London", "01:30", "05:00"),
			"2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T04:00:00Z"},
		{"London fall back: 01:30 happens twice, opens at the first (BST)", sunNight("Europe/London", "01:30", "05:00"),
			"2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T05:00:00Z"},
		{"London fall back: at the second 01:30 it is still the one opening", sunNight("Europe/London", "01:30", "05:00"),
			"2026-10-25T01:30:00Z", "2026-10-25T01:30:00Z", "2026-10-25T05:00:00Z"},
		{"London fall back: after it closes, the next is a week later", sunNight("Europe/London", "01:30", "05:00"),
			"2026-10-25T05:00:00Z", "2026-11-01T01:30:00Z", "2026-11-01T05:00:00Z"},
		{"New York spring forward: 02:30 does not exist, opens at 03:00 EDT", sunNight("America/New_York", "02:30", "04:00"),
			"2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
		{"New York fall back: opens at the first 01:30 (EDT), closes at 03:00 EST", sunNight("America/New_York", "01:30", "03:00"),
			"2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z"},
		{"New York fall back: a window ending at 01:30 ends at the first 01:30", sunNight("America/New_York", "00:30", "01:30"),
			"2026-10-31T12:00:00Z", "2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z"},
		{"both ends inside London's skipped hour: none that night, the next Sunday's", sunNight("Europe/London", "01:10", "01:50"),
			"2026-03-28T12:00:00Z", "2026-04-05T00:10:00Z", "2026-04-05T00:50:00Z"},
		{"crossing midnight: Monday 22:00 until 02:00 is open early Tuesday",
			[]timerules.Window{{Days: []string{"mon"}, From: "22:00", Until: "02:00", Timezone: "UTC"}},
			"2026-12-01T01:00:00Z", "2026-12-01T01:00:00Z", "2026-12-01T02:00:00Z"},
		{"crossing midnight: Tuesday 22:30 is not Monday's night",
			[]timerules.Window{{Days: []string{"mon"}, From: "22:00", Until: "02:00", Timezone: "UTC"}},
			"2026-12-01T22:30:00Z", "2026-12-07T22:00:00Z", "2026-12-08T02:00:00Z"},
		{"crossing midnight on London's fall-back night lasts an hour longer",
			[]timerules.Window{{Days: []string{"sat"}, From: "23:00", Until: "03:00", Timezone: "Europe/London"}},
			"2026-10-24T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T03:00:00Z"},
		{"two windows back to back close at the end of the second",
			[]timerules.Window{
				{Days: []string{"mon"}, From: "22:00", Until: "24:00", Timezone: "UTC"},
				{Days: []string{"tue"}, From: "00:00", Until: "02:00", Timezone: "UTC"},
			},
			"2026-11-30T23:00:00Z", "2026-11-30T23:00:00Z", "2026-12-01T02:00:00Z"},
		{"two windows in two zones: the one that opens first",
			[]timerules.Window{
				{Days: []string{"tue"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"},
				{Days: []string{"mon"}, From: "22:00", Until: "23:00", Timezone: "America/New_York"},
			},
			"2026-11-30T12:00:00Z", "2026-12-01T01:30:00Z", "2026-12-01T05:00:00Z"},
		{"two windows in two zones: New York's 22:00-23:00 EST is 03:00-04:00 UTC, then London's 04:00-05:00",
			[]timerules.Window{
				{Days: []string{"tue"}, From: "04:00", Until: "05:00", Timezone: "Europe/London"},
				{Days: []string{"mon"}, From: "22:00", Until: "23:00", Timezone: "America/New_York"},
			},
			"2026-11-30T12:00:00Z", "2026-12-01T03:00:00Z", "2026-12-01T05:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, timerules.CheckWindows(tc.windows))
			opens, err := timerules.NextOpen(tc.windows, utc(tc.at))
			require.NoError(t, err)
			require.Equal(t, utc(tc.wantOpen), opens.UTC(), "opens at")
			require.True(t, timerules.Open(tc.windows, opens), "open when NextOpen says")
			if opens.After(utc(tc.at)) {
				require.False(t, timerules.Open(tc.windows, utc(tc.at)), "closed before")
				require.False(t, timerules.Open(tc.windows, opens.Add(-time.Second)), "closed a second before")
			}
			closes := timerules.ClosesAt(tc.windows, opens)
			require.Equal(t, utc(tc.wantCloses), closes.UTC(), "closes at")
			require.True(t, timerules.Open(tc.windows, closes.Add(-time.Second)), "open a second before it closes")
			require.False(t, timerules.Open(tc.windows, closes), "closed when ClosesAt says")
		})
	}
}

// countOpenings walks the time line from one opening to the next for a span and counts
// how many times the windows open and for how long in all.
func countOpenings(t *testing.T, ws []timerules.Window, from, until time.Time) (int, time.Duration) {
	n, total := 0, time.Duration(0)
	at := from
	for {
		opens, err := timerules.NextOpen(ws, at)
		require.NoError(t, err)
		if !opens.Before(until) {
			return n, total
		}
		closes := timerules.ClosesAt(ws, opens)
		require.True(t, closes.After(opens))
		n, total, at = n+1, total+closes.Sub(opens), closes
	}
}

func TestClockChangeNightsOpenOnceNeitherSkippedNorDoubled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		window    timerules.Window
		from, to  string
		wantCount int
		wantOpen  time.Duration
	}{
		{"London spring forward, 01:30-05:00 loses the skipped half hour",
			timerules.Window{Days: []string{"sun"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"},
			"2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z", 1, 3 * time.Hour},
		{"London fall back, 01:30-05:00 gains the repeated hour",
			timerules.Window{Days: []string{"sun"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"},
			"2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z", 1, 4*time.Hour + 30*time.Minute},
		{"New York spring forward, every day 01:30-05:00",
			timerules.Window{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "01:30", Until: "05:00", Timezone: "America/New_York"},
			"2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z", 1, 2*time.Hour + 30*time.Minute},
		{"New York fall back, every day 01:30-05:00",
			timerules.Window{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "01:30", Until: "05:00", Timezone: "America/New_York"},
			"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", 1, 4*time.Hour + 30*time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, open := countOpenings(t, []timerules.Window{tc.window}, utc(tc.from), utc(tc.to))
			require.Equal(t, tc.wantCount, n, "openings")
			require.Equal(t, tc.wantOpen, open, "time open")
		})
	}
}

func TestOpenWithoutWindowsIsAlwaysOpen(t *testing.T) {
	now := utc("2026-12-01T12:00:00Z")
	require.True(t, timerules.Open(nil, now))
	opens, err := timerules.NextOpen(nil, now)
	require.NoError(t, err)
	require.Equal(t, now, opens)
	require.True(t, timerules.ClosesAt(nil, now).IsZero(), "no windows never close")
	require.Empty(t, timerules.WaitingText(nil, now))
}

func TestAWindowOpenEveryDayAllDayClosesOnlyPastTheSearch(t *testing.T) {
	always := []timerules.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "00:00", Until: "24:00", Timezone: "Europe/London"}}
	now := utc("2026-03-28T12:00:00Z") // across the spring-forward night too
	require.True(t, timerules.Open(always, now))
	require.True(t, timerules.Open(always, utc("2026-03-29T01:00:00Z")))
	require.False(t, timerules.ClosesAt(always, now).Before(now.Add(timerules.SearchDays*24*time.Hour)))
}

func TestWaitingText(t *testing.T) {
	require.Equal(t, "waiting for the window, opens Tue 01:30 Europe/London",
		timerules.WaitingText(night004, utc("2026-11-30T15:00:00Z")))
	require.Equal(t, "waiting for the window, opens Tue 01:30 Europe/London",
		timerules.WaitingText(night004, utc("2026-06-29T12:00:00Z")), "shown in London's summer time, not UTC")
	require.Empty(t, timerules.WaitingText(night004, utc("2026-12-01T02:00:00Z")), "open: nothing to wait for")
}

func TestCheckWindowsRefusesHostileInputNamingTheField(t *testing.T) {
	good := night004[0]
	with := func(change func(w *timerules.Window)) []timerules.Window {
		w := good
		w.Days = append([]string(nil), good.Days...)
		change(&w)
		return []timerules.Window{good, w}
	}
	many := make([]timerules.Window, 1000)
	for i := range many {
		many[i] = good
	}
	for _, tc := range []struct {
		name    string
		windows []timerules.Window
		field   string
		says    string
	}{
		{"a zone that does not exist", with(func(w *timerules.Window) { w.Timezone = "Europe/Atlantis" }), "window[1].timezone", "not a time zone"},
		{"an empty zone", with(func(w *timerules.Window) { w.Timezone = "" }), "window[1].timezone", "is empty"},
		{"the machine's own zone", with(func(w *timerules.Window) { w.Timezone = "Local" }), "window[1].timezone", "workers could disagree"},
		{"a path as a zone", with(func(w *timerules.Window) { w.Timezone = "../../etc/passwd" }), "window[1].timezone", "not an IANA time zone name"},
		{"a huge zone", with(func(w *timerules.Window) { w.Timezone = string(make([]byte, 1<<20)) }), "window[1].timezone", "at most 64"},
		{"25 o'clock", with(func(w *timerules.Window) { w.From = "25:00" }), "window[1].from", "hours go from 00 to 23"},
		{"24:00 as a start", with(func(w *timerules.Window) { w.From = "24:00" }), "window[1].from", "hours go from 00 to 23"},
		{"24:30 as an end", with(func(w *timerules.Window) { w.Until = "24:30" }), "window[1].until", "24:00 ends the day"},
		{"minute 60", with(func(w *timerules.Window) { w.Until = "04:60" }), "window[1].until", "minutes go from 00 to 59"},
		{"one digit hour", with(func(w *timerules.Window) { w.From = "1:30" }), "window[1].from", "HH:MM"},
		{"seconds", with(func(w *timerules.Window) { w.From = "01:30:00" }), "window[1].from", "HH:MM"},
		{"empty from", with(func(w *timerules.Window) { w.From = "" }), "window[1].from", "HH:MM"},
		{"an empty window", with(func(w *timerules.Window) { w.Until = w.From }), "window[1].until", "would be empty"},
		{"no days", with(func(w *timerules.Window) { w.Days = nil }), "window[1].days", "is empty"},
		{"a day that is not one", with(func(w *timerules.Window) { w.Days[2] = "someday" }), "window[1].days[2]", "not a day"},
		{"a day twice", with(func(w *timerules.Window) { w.Days[3] = "TUE" }), "window[1].days[3]", "named twice"},
		{"more than a week of days", with(func(w *timerules.Window) { w.Days = make([]string, 100) }), "window[1].days", "a week has 7 days"},
		{"1000 windows", many, "window", fmt.Sprintf("at most %d", timerules.MaxWindows)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := timerules.CheckWindows(tc.windows)
			require.Error(t, err)
			var fe timerules.FieldErrors
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe[0].Field, "%v", err)
			require.Contains(t, fe[0].Message, tc.says)
			require.Less(t, len(err.Error()), 400, "the message quotes a clipped value")
		})
	}
}

func TestAWindowThatDoesNotReadNeverOpens(t *testing.T) {
	bad := []timerules.Window{{Days: []string{"mon"}, From: "25:00", Until: "05:00", Timezone: "UTC"}}
	require.False(t, timerules.Open(bad, utc("2026-11-30T03:00:00Z")))
	_, err := timerules.NextOpen(bad, utc("2026-11-30T03:00:00Z"))
	require.ErrorContains(t, err, "no window opens within 8 days")
}
