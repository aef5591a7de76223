package timerules_test

import (
	"testing"

	"github.com/zerodown/zerodown/timerules"
)

// manyWindows is the most windows a spec may hold, in four zones, opening on one day each
// so that NextOpen looks far.
func manyWindows() []timerules.Window {
	zones := []string{"Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"}
	ws := make([]timerules.Window, timerules.MaxWindows)
	for i := range ws {
		ws[i] = timerules.Window{Days: []string{"sun"}, From: "01:30", Until: "00:30", Timezone: zones[i%len(zones)]}
	}
	return ws
}

// The cost of a decision about the largest spec, on a workflow's task: how long a
// workflow task spends per call.
func BenchmarkNextOpenMaxWindows(b *testing.B) {
	ws, at := manyWindows(), utc("2026-03-23T12:00:00Z")
	for b.Loop() {
		if _, err := timerules.NextOpen(ws, at); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClosesAtMaxWindows(b *testing.B) {
	ws, at := manyWindows(), utc("2026-03-29T03:00:00Z")
	for b.Loop() {
		timerules.ClosesAt(ws, at)
	}
}
