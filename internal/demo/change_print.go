package demo

// What the change demo prints: the step table as it changes, and the summary.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zerodown/zerodown/workflows"
)

// StepTable writes a change's steps as a table, one line per step.
func StepTable(st workflows.ChangeStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "          %-11s %-9s %-12s %6s  %s\n", "STEP", "KIND", "STATE", "TOOK", "WHAT")
	for _, s := range st.Steps {
		took := ""
		if !s.Started.IsZero() && !s.Ended.IsZero() {
			took = s.Ended.Sub(s.Started).Round(100 * time.Millisecond).String()
		}
		what := s.Message
		if s.Contract != "" {
			what += orDash(what) + "contract " + s.Contract
		}
		fmt.Fprintf(&b, "          %-11s %-9s %-12s %6s  %s\n", s.ID, s.Kind, s.State, took, clip(what, 110))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return ""
	}
	return "; "
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func (cw *changeWorld) printSummary(sum *ChangeSummary) {
	out := cw.out
	st := sum.Status
	fmt.Fprintln(out)
	fmt.Fprintln(out, "==== zerodown demo-change: summary ====")
	line := fmt.Sprintf("change %s: %s", st.Name, st.Phase)
	if !st.Ended.IsZero() {
		line += " in " + st.Ended.Sub(st.Started).Round(time.Second).String()
	}
	if st.FailedStep != "" {
		line += fmt.Sprintf(" (%s)", clip(st.Reason, 160))
	}
	fmt.Fprintln(out, line)
	fmt.Fprint(out, StepTable(st))
	for _, todo := range st.LeftToDo {
		fmt.Fprintf(out, "left to do by hand: %s\n", todo)
	}
	for _, name := range []string{serviceAPI, serviceWeb} {
		fmt.Fprintf(out, "fleet %s afterwards: %s\n", name, FleetLine(sum.Fleets[name]))
	}
	if !sum.FailedCheck.IsZero() {
		if sum.BackOnOld.IsZero() {
			fmt.Fprintf(out, "after %s failed: the fleets were NOT seen back on %s and %s\n", st.FailedStep, cw.old[serviceAPI], cw.old[serviceWeb])
		} else {
			fmt.Fprintf(out, "both services back on their old versions (%s, %s) %s after %s failed, as the fleets showed (goal: 10s)\n",
				cw.old[serviceAPI], cw.old[serviceWeb], sum.BackWithin.Round(10*time.Millisecond), st.FailedStep)
		}
		var undone []string
		for _, s := range slices.Backward(st.Steps) {
			if d, ok := sum.Undone[s.ID]; ok {
				undone = append(undone, fmt.Sprintf("%s +%s", s.ID, d.Round(10*time.Millisecond)))
			}
		}
		fmt.Fprintf(out, "the change's timeline: %s failed, then undone: %s\n", st.FailedStep, strings.Join(undone, ", "))
	}
	if k := st.Clock; k != nil && k.DeadlineReached {
		verdict := "in time"
		if st.Ended.After(k.DoneBy) {
			verdict = "LATE"
		}
		fmt.Fprintf(out, "deadline: decideBy %s reached with the landing tests unconfirmed; everything rolled back by %s, doneBy %s: %s\n",
			k.DecideBy.Local().Format("15:04:05"), st.Ended.Local().Format("15:04:05"), k.DoneBy.Local().Format("15:04:05"), verdict)
	}
	for _, name := range []string{serviceAPI, serviceWeb} {
		l := sum.Load[name]
		if l == nil {
			continue
		}
		ws := l.WebSocket
		fmt.Fprintf(out, "%s users: %d requests sent, %d served, %d failed; %d WebSocket clients, %d sessions kept across %d reconnects, %d dropped, %d updates lost\n",
			name, l.Requests, l.OK, l.Failed, ws.Clients, int64(ws.Clients)-ws.Dropped, ws.Reconnects, ws.Dropped, ws.Lost)
	}
	if sum.ZeroLoss() {
		fmt.Fprintln(out, "nobody noticed: zero failed requests, zero dropped sessions, zero lost updates")
	}
	fmt.Fprintf(out, "logs: %s\n", cw.opts.WorkDir)
}
