package timerules_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/zerodown/zerodown/timerules"
)

// deadline004 is 004's night: decide by 06:00, the system up for the call centre at 07:00.
var deadline004 = timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00", Timezone: "Europe/London"}

func TestDeadlineResolve(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		deadline             timerules.Deadline
		start                string
		wantDecide, wantDone string
	}{
		{"004: a 01:30 start decides by 06:00 the same morning", deadline004,
			"2026-12-01T01:30:00Z", "2026-12-01T06:00:00Z", "2026-12-01T07:00:00Z"},
		{"004: the go/no-go the afternoon before still means the next morning", deadline004,
			"2026-11-30T17:00:00Z", "2026-12-01T06:00:00Z", "2026-12-01T07:00:00Z"},
		{"a start after 06:00 decides by the next morning's", deadline004,
			"2026-12-01T06:30:00Z", "2026-12-02T06:00:00Z", "2026-12-02T07:00:00Z"},
		{"a start exactly at 06:00 decides by the next morning's", deadline004,
			"2026-12-01T06:00:00Z", "2026-12-02T06:00:00Z", "2026-12-02T07:00:00Z"},
		{"London's spring-forward night: 06:00 BST is 05:00 UTC", deadline004,
			"2026-03-28T23:30:00Z", "2026-03-29T05:00:00Z", "2026-03-29T06:00:00Z"},
		{"London's fall-back night: 06:00 GMT is 06:00 UTC", deadline004,
			"2026-10-24T23:30:00Z", "2026-10-25T06:00:00Z", "2026-10-25T07:00:00Z"},
		{"New York's fall-back night: decideBy in the repeated hour is the first 01:30",
			timerules.Deadline{DecideBy: "01:30", DoneBy: "03:00", Timezone: "America/New_York"},
			"2026-11-01T03:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T08:00:00Z"},
		{"New York's spring-forward night: decideBy in the skipped hour is 03:00 EDT",
			timerules.Deadline{DecideBy: "02:30", DoneBy: "04:00", Timezone: "America/New_York"},
			"2026-03-08T03:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"},
		{"doneBy past midnight is the morning after decideBy",
			timerules.Deadline{DecideBy: "23:30", DoneBy: "00:30", Timezone: "UTC"},
			"2026-12-01T20:00:00Z", "2026-12-01T23:30:00Z", "2026-12-02T00:30:00Z"},
		{"RFC3339 instants are taken as they are",
			timerules.Deadline{DecideBy: "2026-12-01T06:00:00+00:00", DoneBy: "2026-12-01T08:00:00+01:00"},
			"2026-12-01T01:30:00Z", "2026-12-01T06:00:00Z", "2026-12-01T07:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.deadline.Check())
			decide, done, err := tc.deadline.Resolve(utc(tc.start))
			require.NoError(t, err)
			require.Equal(t, utc(tc.wantDecide), decide.UTC(), "decideBy")
			require.Equal(t, utc(tc.wantDone), done.UTC(), "doneBy")
		})
	}
}

func TestDeadlineResolveRefusesAnInstantBeforeTheStart(t *testing.T) {
	d := timerules.Deadline{DecideBy: "2026-12-01T06:00:00Z", DoneBy: "2026-12-01T07:00:00Z"}
	_, _, err := d.Resolve(utc("2026-12-01T06:30:00Z"))
	require.ErrorContains(t, err, "deadline.decideBy: 2026-12-01T06:00:00Z is not after the start")
}

func TestDeadlineMarginAndAction(t *testing.T) {
	require.Equal(t, time.Hour, deadline004.Margin())
	require.Equal(t, time.Hour, timerules.Deadline{DecideBy: "23:30", DoneBy: "00:30", Timezone: "UTC"}.Margin())
	require.Equal(t, 90*time.Minute, timerules.Deadline{DecideBy: "2026-12-01T06:00:00Z", DoneBy: "2026-12-01T07:30:00Z"}.Margin())
	require.Equal(t, timerules.OnDeadlineRollback, deadline004.Action())
	ask := deadline004
	ask.OnDeadline = timerules.OnDeadlineAsk
	require.Equal(t, timerules.OnDeadlineAsk, ask.Action())
}

func TestDeadlineCheckRefusesNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline timerules.Deadline
		field    string
		says     string
	}{
		{"no decideBy", timerules.Deadline{DoneBy: "07:00", Timezone: "UTC"}, "deadline.decideBy", "is required"},
		{"no doneBy", timerules.Deadline{DecideBy: "06:00", Timezone: "UTC"}, "deadline.doneBy", "is required"},
		{"25 o'clock", timerules.Deadline{DecideBy: "25:00", DoneBy: "07:00", Timezone: "UTC"}, "deadline.decideBy", "hours go from 00 to 23"},
		{"a word", timerules.Deadline{DecideBy: "dawn", DoneBy: "07:00", Timezone: "UTC"}, "deadline.decideBy", "neither a time of day"},
		{"times of day without a zone", timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00"}, "deadline.timezone", "is required with times of day"},
		{"a zone that does not exist", timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00", Timezone: "Mars/Olympus"}, "deadline.timezone", "not a time zone"},
		{"mixed forms", timerules.Deadline{DecideBy: "06:00", DoneBy: "2026-12-01T07:00:00Z", Timezone: "UTC"}, "deadline.doneBy", "write both as times of day"},
		{"doneBy equal to decideBy", timerules.Deadline{DecideBy: "06:00", DoneBy: "06:00", Timezone: "UTC"}, "deadline.doneBy", "same time as decideBy"},
		{"doneBy before decideBy", timerules.Deadline{DecideBy: "2026-12-01T07:00:00Z", DoneBy: "2026-12-01T06:00:00Z"}, "deadline.doneBy", "not after decideBy"},
		{"year 0", timerules.Deadline{DecideBy: "0000-12-01T07:00:00Z", DoneBy: "2026-12-01T08:00:00Z"}, "deadline.decideBy", "neither a time of day"},
		{"an unknown action", timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00", Timezone: "UTC", OnDeadline: "panic"}, "deadline.onDeadline", "use rollback or ask"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.deadline.Check()
			var fe timerules.FieldErrors
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe[0].Field, "%v", err)
			require.Contains(t, fe[0].Message, tc.says)
			_, _, err = tc.deadline.Resolve(utc("2026-12-01T01:30:00Z"))
			require.Error(t, err, "Resolve refuses what Check refuses")
		})
	}
}

func TestDeadlineText(t *testing.T) {
	decide, _, err := deadline004.Resolve(utc("2026-12-01T01:30:00Z"))
	require.NoError(t, err)
	require.Equal(t, "2h13m left before decideBy 06:00 Europe/London", timerules.DeadlineText(deadline004, decide, utc("2026-12-01T03:47:00Z")))
	require.Equal(t, "45s left before decideBy 06:00 Europe/London", timerules.DeadlineText(deadline004, decide, utc("2026-12-01T05:59:15Z")))
	require.Equal(t, "decideBy 06:00 Europe/London passed 4m ago", timerules.DeadlineText(deadline004, decide, utc("2026-12-01T06:04:00Z")))

	summer, _, err := deadline004.Resolve(utc("2026-06-30T00:30:00Z"))
	require.NoError(t, err)
	require.Equal(t, "1h left before decideBy 06:00 Europe/London", timerules.DeadlineText(deadline004, summer, utc("2026-06-30T04:00:00Z")), "shown on London's clock")
	require.Equal(t, "26h left before decideBy Wed 06:00 Europe/London", timerules.DeadlineText(deadline004, decide.Add(24*time.Hour), utc("2026-12-01T04:00:00Z")))
}

func TestResolveAt(t *testing.T) {
	at, err := timerules.ResolveAt("17:00", "Europe/London", utc("2026-11-30T09:00:00Z"))
	require.NoError(t, err)
	require.Equal(t, utc("2026-11-30T17:00:00Z"), at.UTC())
	at, err = timerules.ResolveAt("17:00", "Europe/London", utc("2026-06-29T09:00:00Z"))
	require.NoError(t, err)
	require.Equal(t, utc("2026-06-29T16:00:00Z"), at.UTC(), "17:00 BST")
	at, err = timerules.ResolveAt("17:00", "Europe/London", utc("2026-11-30T17:30:00Z"))
	require.NoError(t, err)
	require.Equal(t, utc("2026-12-01T17:00:00Z"), at.UTC(), "past 17:00: tomorrow's")

	_, err = timerules.ResolveAt("5pm", "Europe/London", utc("2026-11-30T09:00:00Z"))
	require.ErrorContains(t, err, "at: ")
	_, err = timerules.ResolveAt("17:00", "Nowhere", utc("2026-11-30T09:00:00Z"))
	require.ErrorContains(t, err, "timezone: ")
}

func TestRollbackFits(t *testing.T) {
	parts := []timerules.RollbackPart{
		{What: "target.healthTimeout", Limit: 10 * time.Minute},
		{What: "drain.timeout", Limit: 30 * time.Minute},
		{What: "steps[0].command.undo", Limit: 25 * time.Minute},
	}
	need, fits := timerules.RollbackFits(parts, deadline004.Margin())
	require.Equal(t, 65*time.Minute, need)
	require.False(t, fits, "65m does not fit in 004's hour")
	need, fits = timerules.RollbackFits(parts[:2], deadline004.Margin())
	require.Equal(t, 40*time.Minute, need)
	require.True(t, fits)
	_, fits = timerules.RollbackFits([]timerules.RollbackPart{{Limit: time.Hour}}, time.Hour)
	require.True(t, fits, "exactly the margin fits")
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30s", 59*time.Second + 900*time.Millisecond: "59s", time.Minute: "1m",
		2*time.Hour + 13*time.Minute + 59*time.Second: "2h13m", 3 * time.Hour: "3h",
	} {
		require.Equal(t, want, timerules.ShortDuration(d))
	}
}
