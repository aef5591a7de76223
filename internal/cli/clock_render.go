package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/workflows"
)

// RenderClock is what the clock rules hold a release or change to, as status prints it:
// what it waits for, the go/no-go call, the deadline and the time left.
func RenderClock(k *workflows.ClockStatus, now time.Time) string {
	if k == nil {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	if k.Waiting != "" {
		line := k.Waiting
		if !k.WaitingUntil.IsZero() && k.WaitingUntil.After(now) {
			line += fmt.Sprintf(" (in %s)", ago(k.WaitingUntil.Sub(now)))
		}
		w("waiting  %s", line)
	}
	if g := k.GoNoGo; g != nil && !g.Decided {
		goes := 0
		for _, a := range g.Answers {
			if a.Answer == workflows.AnswerGo {
				goes++
			}
		}
		state := "opens " + g.OpensAt.Local().Format("Mon 15:04")
		if g.Open {
			state = fmt.Sprintf("open until %s (%s left)", g.ClosesAt.Local().Format("15:04"), ago(g.ClosesAt.Sub(now)))
		}
		w("go/no-go %d of %d go, %s: zerodown go|no-go TARGET --reason ...", goes, g.Required, state)
	}
	if !k.DecideBy.IsZero() {
		left := k.DecideBy.Sub(now)
		line := fmt.Sprintf("decideBy %s (%s left), doneBy %s, then %s", k.DecideBy.Local().Format("Mon 15:04"), ago(max(left, 0)), k.DoneBy.Local().Format("Mon 15:04"), k.OnDeadline)
		if k.DeadlineReached {
			line = fmt.Sprintf("decideBy %s reached: rolled back to be done by %s", k.DecideBy.Local().Format("Mon 15:04"), k.DoneBy.Local().Format("Mon 15:04"))
		}
		if n := len(k.Extensions); n > 0 {
			e := k.Extensions[n-1]
			line += fmt.Sprintf(" [extended %d time(s), last by %s: %s]", n, e.By, e.Reason)
		}
		w("deadline %s", line)
	}
	if k.StartNowBy != "" {
		w("window   started outside it by %s: %s", k.StartNowBy, k.StartNowReason)
	}
	if k.FreezeOverride != "" {
		w("freeze   overridden by %s", k.FreezeOverride)
	}
	return b.String()
}
