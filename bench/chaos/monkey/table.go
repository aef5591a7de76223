package monkey

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/workflows"
)

// Markdown is the run as tables: kills per moment, the verdicts, and each release.
func (r *Result) Markdown() string {
	var b strings.Builder
	good, bad := 0, 0
	for _, rel := range r.Releases {
		if rel.Want == workflows.PhaseRolledBack {
			bad++
		} else {
			good++
		}
	}
	form := "full"
	if r.Short {
		form = "short"
	}
	fmt.Fprintf(&b, "Seed %d (%s form). %d releases of the demo service on the local cloud (4 instances, canary 1, 15 s soak checked every 5 s, "+
		"rolling promote one at a time, session migration; bench/chaos/release.yaml), %d good (v1 ⇄ v2) and %d of the bad v3 "+
		"(built with %s: its canary fails its checks and the release rolls back), through `zerodown start --wait`, under load; "+
		"the worker was SIGKILLed %d times and started again after 0.2–3 s, the Temporal dev server (SQLite file) and the local "+
		"cloud daemon restarted mid-release.\n\n",
		r.Seed, form, len(r.Releases), good, bad, demo.BadBuildFlags, len(r.Kills))

	b.WriteString("| kills of the worker | kills | after the local cloud answered, before the worker heard | at a random moment | release going again after, p50 / max |\n|---|--:|--:|--:|--:|\n")
	for _, mo := range append(slices.Clone(Moments), Other) {
		var n, api int
		var resumed []time.Duration
		for _, k := range r.Kills {
			if k.Moment != mo {
				continue
			}
			n++
			if k.After != "" {
				api++
			}
			if k.Resumed > 0 {
				resumed = append(resumed, k.Resumed)
			}
		}
		if n == 0 && mo == Other {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", mo, n, api, n-api, p50max(resumed))
	}
	fmt.Fprintf(&b, "| all | %d | | | |\n\n", len(r.Kills))

	right, gated, launchesWant, launchesGot, fleets := 0, 0, 0, 0, 0
	for _, rel := range r.Releases {
		if rel.Got == rel.Want && len(rel.Problems) == 0 {
			right++
		}
		launchesWant += rel.LaunchesWant
		launchesGot += rel.LaunchesGot
		for _, p := range rel.Problems {
			switch {
			case strings.HasPrefix(p, "fleet:"):
				fleets++
			case strings.HasPrefix(p, stoppedAtGate):
				gated++
			}
		}
	}
	b.WriteString("| | |\n|---|--:|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("releases ending as they should by themselves (v1/v2 Succeeded, v3 RolledBack), with nothing wrong", fmt.Sprintf("%d of %d", right, len(r.Releases)))
	row("releases that stopped for a human at an approval gate (the bench aborted them)", fmt.Sprint(gated))
	row("instances launched: the plans need / the local cloud made", fmt.Sprintf("%d / %d", launchesWant, launchesGot))
	row("releases whose fleet was not exactly as desired afterwards", fmt.Sprint(fleets))
	row("processes left running", fmt.Sprint(len(r.Leaked)))
	row("Temporal server restarts", restartsText(r.Restarts, demo.ServiceTemporal))
	row("local cloud restarts", restartsText(r.Restarts, demo.ServiceLocalCloud))
	if l := r.Load; l != nil {
		during := window(l, loadWindowCloudCrash)
		row("requests / failed", fmt.Sprintf("%d / %d", l.Requests, l.Failed))
		row("… failed outside local cloud crashes", fmt.Sprintf("%d%s", l.Failed-during.Failed, causes(minus(l.Failures, during.Failures))))
		row("… failed within 2 s of a local cloud crash (in flight in its load balancer)", fmt.Sprintf("%d of %d%s", during.Failed, during.Requests, causes(during.Failures)))
		if ws := l.WebSocket; ws != nil {
			row("WebSocket sessions dropped without a reconnect / updates lost", fmt.Sprintf("%d / %d", ws.Dropped, ws.Lost))
		}
	}
	row("duration", r.Duration.Round(time.Second).String())

	b.WriteString("\n| # | version | expected | ended | exit | kills | launches per step | fleet after | took | longest stall |\n|--:|---|---|---|--:|--:|---|---|--:|--:|\n")
	for i, rel := range r.Releases {
		kills := 0
		for _, k := range r.Kills {
			if k.Release == i {
				kills++
			}
		}
		got := string(rel.Got)
		if len(rel.Problems) > 0 {
			got += " ⚠ " + strings.Join(rel.Problems, "; ")
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %d | %s | %s | %s | %s |\n", i+1, rel.Version, rel.Want, got, rel.Exit, kills,
			stepsText(rel.Steps), demo.FleetLine(rel.Fleet), rel.Duration.Round(time.Second), rel.Stall.Round(100*time.Millisecond))
	}
	return b.String()
}

// Check lists what went wrong; nil means every claim held.
func (r *Result) Check(minKills int) error {
	var errs []error
	for _, p := range r.Problems {
		errs = append(errs, errors.New(p))
	}
	for i, rel := range r.Releases {
		for _, p := range rel.Problems {
			errs = append(errs, fmt.Errorf("release %d (%s): %s", i+1, rel.Version, p))
		}
	}
	if len(r.Leaked) > 0 {
		errs = append(errs, fmt.Errorf("processes left running: %v", r.Leaked))
	}
	if l := r.Load; l == nil {
		errs = append(errs, errors.New("no load report"))
	} else if outside := l.Failed - window(l, loadWindowCloudCrash).Failed; outside > 0 {
		errs = append(errs, fmt.Errorf("%d requests failed outside local cloud crashes", outside))
	}
	if len(r.Kills) < minKills {
		errs = append(errs, fmt.Errorf("%d kills, fewer than %d", len(r.Kills), minKills))
	}
	if !r.Short {
		for _, mo := range Moments {
			if !slices.ContainsFunc(r.Kills, func(k Kill) bool { return k.Moment == mo }) {
				errs = append(errs, fmt.Errorf("no kill while %s", mo))
			}
		}
	}
	return errors.Join(errs...)
}

func window(l *loadgen.Report, name string) loadgen.Window {
	for _, w := range l.Windows {
		if w.Name == name {
			return w
		}
	}
	return loadgen.Window{Name: name}
}

func p50max(d []time.Duration) string {
	if len(d) == 0 {
		return "—"
	}
	slices.Sort(d)
	return fmt.Sprintf("%s / %s", d[len(d)/2].Round(100*time.Millisecond), d[len(d)-1].Round(100*time.Millisecond))
}

func restartsText(rs []Restart, svc string) string {
	var parts []string
	for _, r := range rs {
		if r.Service != svc {
			continue
		}
		how := "SIGTERM"
		if r.Crash {
			how = "SIGKILL"
		}
		parts = append(parts, fmt.Sprintf("release %d %s (%s, back in %s)", r.Release+1, r.Phase, how, r.Took.Round(10*time.Millisecond)))
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", len(parts), strings.Join(parts, "; "))
}

func stepsText(steps map[string]int) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(steps)) {
		parts = append(parts, fmt.Sprintf("%s %d", s, steps[s]))
	}
	return strings.Join(parts, ", ")
}

func minus(a, b loadgen.Failures) loadgen.Failures {
	return loadgen.Failures{Conn: a.Conn - b.Conn, Timeout: a.Timeout - b.Timeout, Status5xx: a.Status5xx - b.Status5xx,
		Status4xx: a.Status4xx - b.Status4xx, Overload: a.Overload - b.Overload}
}

// causes names the causes of failures in parentheses, as loadgen does, or nothing.
func causes(f loadgen.Failures) string {
	if c := f.Causes(); c != "" {
		return " (" + c + ")"
	}
	return ""
}
