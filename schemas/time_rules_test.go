package schemas_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timerules"
)

// night004Rules are the clock rules of 004's night, written as a spec writes them.
const night004Rules = `
window:
  - days: [tue, wed, thu, fri]
    from: 01:30
    until: 05:00
    timezone: Europe/London
deadline:
  decideBy: 06:00
  doneBy: 07:00
  timezone: Europe/London
goNoGo:
  approvers: [client-lead, group:ops]
  groups: {ops: [dana, erin]}
  count: 2
  at: "17:00"
  timezone: Europe/London
`

func minimalSpec(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("testdata", "minimal.yaml"))
	require.NoError(t, err)
	return string(b)
}

func TestReleaseSpecCarriesTheClockRules(t *testing.T) {
	s, err := schemas.Parse([]byte(minimalSpec(t) + night004Rules))
	require.NoError(t, err)
	require.Equal(t, []timerules.Window{{Days: []string{"tue", "wed", "thu", "fri"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"}}, s.Window,
		"unquoted 01:30 stays the string 01:30 (YAML 1.2 has no base-60 numbers)")
	require.Equal(t, &timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00", Timezone: "Europe/London"}, s.Deadline)
	require.Equal(t, 2, s.GoNoGo.RequiredGo())
	require.Equal(t, time.Hour, s.GoNoGo.TimeoutOrDefault())
	require.Equal(t, []string{"client-lead", "dana", "erin"}, s.GoNoGo.Policy().People())

	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	opens, err := s.GoNoGo.OpensAt(start)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), opens.UTC())
	require.NoError(t, schemas.Validate(s), "a spec built in code is held to the same rules")
	require.Empty(t, schemas.Warnings(s), "the default rollback (5m health, 5m drain) fits in 004's hour")

	plain, err := schemas.Parse([]byte(minimalSpec(t)))
	require.NoError(t, err)
	require.Nil(t, plain.Window)
	require.Nil(t, plain.Deadline)
	require.Nil(t, plain.GoNoGo)
	b, err := os.ReadFile(filepath.Join("testdata", "minimal.yaml"))
	require.NoError(t, err)
	require.NotContains(t, string(b), "window", "specs without clock rules encode as before")
}

func TestClockRulesAreRefusedNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, field, says string
	}{
		{"25 o'clock", "window: [{days: [tue], from: \"25:00\", until: \"05:00\", timezone: UTC}]", "window[0].from", "is not a time of day"},
		{"no days", "window: [{days: [], from: \"01:30\", until: \"05:00\", timezone: UTC}]", "window[0].days", ""},
		{"a day that is not one", "window: [{days: [tue, someday], from: \"01:30\", until: \"05:00\", timezone: UTC}]", "window[0].days[1]", ""},
		{"a zone that does not exist", "window: [{days: [tue], from: \"01:30\", until: \"05:00\", timezone: Europe/Atlantis}]", "window[0].timezone", "not a time zone of the IANA database"},
		{"the machine's zone", "window: [{days: [tue], from: \"01:30\", until: \"05:00\", timezone: Local}]", "window[0].timezone", "workers could disagree"},
		{"an empty window", "window: [{days: [tue], from: \"01:30\", until: \"01:30\", timezone: UTC}]", "window[0].until", "would be empty"},
		{"a window without a zone", "window: [{days: [tue], from: \"01:30\", until: \"05:00\"}]", "window[0].timezone", "is required"},
		{"deadline times without a zone", "deadline: {decideBy: \"06:00\", doneBy: \"07:00\"}", "deadline.timezone", "is required with times of day"},
		{"deadline of mixed forms", "deadline: {decideBy: \"06:00\", doneBy: 2026-12-01T07:00:00Z, timezone: UTC}", "deadline.doneBy", "both as times of day"},
		{"deadline in words", "deadline: {decideBy: dawn, doneBy: \"07:00\", timezone: UTC}", "deadline.decideBy", "neither a time of day"},
		{"deadline action", "deadline: {decideBy: \"06:00\", doneBy: \"07:00\", timezone: UTC, onDeadline: panic}", "deadline.onDeadline", ""},
		{"go/no-go at without a zone", "goNoGo: {approvers: [a], at: \"17:00\"}", "goNoGo.timezone", "is required with at"},
		{"go/no-go at 5pm", "goNoGo: {approvers: [a], at: 5pm, timezone: UTC}", "goNoGo.at", "is not a time of day"},
		{"go/no-go count beyond its people", "goNoGo: {approvers: [a, b], count: 3}", "goNoGo.count", "the call could never say go"},
		{"go/no-go group that is not defined", "goNoGo: {approvers: [group:ops]}", "goNoGo.approvers[0]", "names no group"},
		{"go/no-go with nobody", "goNoGo: {approvers: []}", "goNoGo.approvers", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(minimalSpec(t) + tc.yaml + "\n"))
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Contains(t, err.Error(), tc.field+": ", "%v", err)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

func TestValidateWarnsWhenTheRollbackCannotFitTheDeadline(t *testing.T) {
	s, err := schemas.Parse([]byte(minimalSpec(t) + night004Rules + `
drain: {timeout: 40m, deregistrationDelay: 30s}
`))
	require.NoError(t, err)
	s.Target.HealthTimeout = schemas.Duration(25 * time.Minute)
	got := schemas.Warnings(s)
	require.Len(t, got, 1)
	require.Equal(t, "deadline", got[0].Path)
	require.Equal(t, "a rollback may take up to 1h5m30s (target.healthTimeout 25m + drain.deregistrationDelay 30s + drain.timeout 40m), more than the 1h between decideBy 06:00 and doneBy 07:00: started at decideBy it may not be over by doneBy; move decideBy earlier or shorten those timeouts",
		got[0].Message)

	s.Drain.Timeout = schemas.Duration(34 * time.Minute)
	require.Empty(t, schemas.Warnings(s), "59m30s fits in the hour")
}

func TestChangeSpecCarriesTheClockRulesAndWarns(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "board.yaml"), []byte(strings.Replace(minimalSpec(t), "staging", "prod", 1)+"drain: {timeout: 20m}\n"), 0o600))
	c, err := schemas.ParseChange([]byte(`
change: night
environment: prod
steps:
  - {id: backup, command: {run: [/bin/true], undo: [/bin/true], timeout: 30m}}
  - {id: board, after: [backup], release: {spec: board.yaml, version: v2}}
`+night004Rules), dir)
	require.NoError(t, err)
	require.Len(t, c.Window, 1)
	require.Equal(t, "06:00", c.Deadline.DecideBy)
	require.Equal(t, 2, c.GoNoGo.RequiredGo())
	require.NoError(t, schemas.ValidateChange(c), "the workflow's own check accepts it")

	require.Empty(t, schemas.ChangeWarnings(c), "30m undo + 5m health + 20m drain fit in the hour")
	c.Steps[0].Command.Timeout = schemas.Duration(40 * time.Minute)
	got := schemas.ChangeWarnings(c)
	require.Len(t, got, 1)
	require.Equal(t, "deadline: a rollback may take up to 1h5m (steps[0].command.undo 40m + steps[1] (board.yaml) target.healthTimeout 5m + steps[1] (board.yaml) drain.timeout 20m), more than the 1h between decideBy 06:00 and doneBy 07:00: started at decideBy it may not be over by doneBy; move decideBy earlier or shorten those timeouts", got[0].String())

	_, err = schemas.ParseChange([]byte(`
change: night
environment: prod
steps:
  - {id: backup, command: {run: [/bin/true]}}
window: [{days: [tue], from: "24:00", until: "05:00", timezone: Europe/London}]
`), dir)
	require.ErrorContains(t, err, "window[0].from: ")
	c.Deadline.Timezone = "Mars/Olympus"
	require.ErrorContains(t, schemas.ValidateChange(c), "deadline.timezone: ")
}

// The examples of docs/time.md stay valid: whole specs as they are, fragments (the clock
// rules alone) added to a minimal spec.
func TestTimeDocExamplesAreValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "time.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	whole := 0
	for _, m := range blocks {
		doc := m[1]
		if strings.Contains(doc, "service:") {
			whole++
		} else {
			doc = minimalSpec(t) + doc
		}
		s, err := schemas.Parse([]byte(doc))
		require.NoError(t, err, "docs/time.md example:\n%s", m[1])
		require.Empty(t, schemas.Warnings(s), "docs/time.md example:\n%s", m[1])
	}
	require.Len(t, blocks, 6)
	require.Equal(t, 1, whole)
}
