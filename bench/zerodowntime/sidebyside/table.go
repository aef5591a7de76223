package sidebyside

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/zerodown/zerodown/internal/loadgen"
)

// Markdown is the comparison as a Markdown table, one column per mode and, when both
// ran, the naive figure over the zerodown one: the cost measured side by side.
func (r *Result) Markdown() string {
	var b strings.Builder
	c := r.Config
	service := "closes its WebSockets on SIGTERM without a reconnect (--migrate-on-sigterm=false)"
	if c.ServiceMigrates {
		service = "migrates its own WebSocket sessions on SIGTERM"
	}
	fmt.Fprintf(&b, "Load: %.0f requests/s (30%% writes, open loop, 2 s timeout) and %d WebSocket clients on %d boards, "+
		"through the local cloud's load balancer to %d instances; %s → %s; %s of steady load before the release "+
		"(the first %s, while every client connects at once, kept apart), at least %s after and until %d requests. "+
		"The service %s.\n\n",
		c.Rate, c.WSClients, c.Boards, c.Instances, c.From, c.To, c.Warmup, c.RampUp, c.Cooldown, c.MinRequests, service)

	z, hasZ := r.Column(Zerodown)
	n, hasN := r.Column(Naive)
	ratio := hasZ && hasN
	b.WriteString("| |")
	for _, col := range r.Columns {
		fmt.Fprintf(&b, " %s |", col.Mode)
	}
	if ratio {
		b.WriteString(" naive ÷ zerodown |")
	}
	b.WriteString("\n|---|")
	for range r.Columns {
		b.WriteString("--:|")
	}
	if ratio {
		b.WriteString("--:|")
	}
	b.WriteString("\n")

	row := func(name string, cell func(Column) string, num func(Column) float64) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, col := range r.Columns {
			fmt.Fprintf(&b, " %s |", cell(col))
		}
		if ratio {
			fmt.Fprintf(&b, " %s |", ratioText(num, n, z))
		}
		b.WriteString("\n")
	}
	count := func(f func(Column) int64) (func(Column) string, func(Column) float64) {
		return func(c Column) string { return thousands(f(c)) }, func(c Column) float64 { return float64(f(c)) }
	}
	ws := func(c Column) loadgen.WebSocketReport {
		if c.Load.WebSocket == nil {
			return loadgen.WebSocketReport{}
		}
		return *c.Load.WebSocket
	}
	lat := func(window string) func(Column) string {
		return func(c Column) string {
			l := c.Window(window).Latency
			return fmt.Sprintf("%s / %s / %s", ms(l.P50), ms(l.P99), ms(l.Max))
		}
	}
	p99 := func(window string) func(Column) float64 {
		return func(c Column) float64 { return c.Window(window).Latency.P99 }
	}

	cell, num := count(func(c Column) int64 { return c.Load.Requests })
	row("requests", cell, num)
	cell, num = count(func(c Column) int64 { return c.Load.Failed })
	row("failed requests", func(c Column) string { return cell(c) + causes(c.Load.Failures) }, num)
	cell, num = count(func(c Column) int64 { return c.Window(ReleaseWindow).Failed })
	row("… of which during the release", cell, num)
	row(fmt.Sprintf("latency p50 / p99 / max, first %s: clients connecting (ms)", c.RampUp), lat(RampUpWindow), p99(RampUpWindow))
	row("latency p50 / p99 / max, steady (ms)", lat(loadgen.SteadyWindow), p99(loadgen.SteadyWindow))
	row("latency p50 / p99 / max, during the release (ms)", lat(ReleaseWindow), p99(ReleaseWindow))
	lag := func(c Column) string {
		return fmt.Sprintf("%s / %s", ms(c.Window(loadgen.SteadyWindow).SendLag.P99), ms(c.Window(ReleaseWindow).SendLag.P99))
	}
	row("load generator's own lag p99, steady / during the release (ms): the machine's share", lag, nil)
	row("p99 during the release ÷ steady p99", func(c Column) string { return fmt.Sprintf("%.2f", c.p99Ratio()) }, Column.p99Ratio)
	cell, num = count(func(c Column) int64 { return ws(c).Dropped })
	row("WebSocket sessions dropped without a reconnect", cell, num)
	cell, num = count(func(c Column) int64 { return ws(c).Reconnects })
	row("WebSocket reconnects asked by the service", cell, num)
	cell, num = count(func(c Column) int64 { return ws(c).Lost })
	row("updates lost", cell, num)
	row("release duration", func(c Column) string { return c.Release.Round(100 * time.Millisecond).String() },
		func(c Column) float64 { return c.Release.Seconds() })
	row("outcome", func(c Column) string { return c.Outcome + ", " + fleetText(c.Fleet) }, nil)
	return b.String()
}

// ratioText is a over b for a row, "—" where it means nothing (no number, 0/0) and ∞
// where only b is 0.
func ratioText(num func(Column) float64, a, b Column) string {
	if num == nil {
		return ""
	}
	x, y := num(a), num(b)
	switch {
	case x == 0 && y == 0:
		return "—"
	case y == 0:
		return "∞"
	}
	return fmt.Sprintf("%.2f×", x/y)
}

func causes(f loadgen.Failures) string {
	if f.Total() == 0 {
		return ""
	}
	return " (" + f.Causes() + ")"
}

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func fleetText(m map[string]int) string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d × %s", m[v], v))
	}
	if len(parts) == 0 {
		return "empty fleet"
	}
	return strings.Join(parts, ", ")
}
