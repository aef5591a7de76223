package timerules_test

import (
	"testing"
	"time"

	"github.com/zerodown/zerodown/timerules"
)

// Whatever a window says and whenever it is asked, the answers agree with each other:
// NextOpen is open and not before t, ClosesAt of an open instant is after it and closed,
// and nothing panics or runs long.
func FuzzWindows(f *testing.F) {
	f.Add("tue", "01:30", "05:00", "Europe/London", int64(1796083200))
	f.Add("sun", "01:30", "05:00", "Europe/London", int64(1774742400)) // spring-forward night
	f.Add("sun", "01:30", "03:00", "America/New_York", int64(1793491200))
	f.Add("mon", "22:00", "02:00", "UTC", int64(0))
	f.Add("sun", "01:10", "01:50", "Europe/London", int64(1774656000))
	f.Add("sat", "00:00", "24:00", "Australia/Lord_Howe", int64(1775300000)) // half-hour clock change
	f.Fuzz(func(t *testing.T, day, from, until, zone string, unix int64) {
		ws := []timerules.Window{{Days: []string{day}, From: from, Until: until, Timezone: zone}}
		if timerules.CheckWindows(ws) != nil {
			return
		}
		at := time.Unix(unix%(1<<34), 0) // years 1425 to 2514
		opens, err := timerules.NextOpen(ws, at)
		if err != nil {
			return // a window that never opens (all of it in a skipped hour, on its only day)
		}
		if opens.Before(at) || !timerules.Open(ws, opens) {
			t.Fatalf("NextOpen(%v) = %v, which is before or closed", at, opens)
		}
		closes := timerules.ClosesAt(ws, opens)
		if !closes.After(opens) || timerules.Open(ws, closes) || !timerules.Open(ws, closes.Add(-time.Second)) {
			t.Fatalf("ClosesAt(%v) = %v: not the end of an opening", opens, closes)
		}
	})
}
