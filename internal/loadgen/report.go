package loadgen

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Failures counts failed requests by cause.
type Failures struct {
	Conn      int64 `json:"conn"`      // could not connect, or the connection broke
	Timeout   int64 `json:"timeout"`   // no full answer within Config.Timeout
	Status5xx int64 `json:"status5xx"` // the server answered 5xx
	Status4xx int64 `json:"status4xx"` // the server answered 4xx: a bug in the service or the load
	Overload  int64 `json:"overload"`  // never sent: MaxInFlight requests were already waiting
}

// Total is the number of failed requests.
func (f Failures) Total() int64 {
	return f.Conn + f.Timeout + f.Status5xx + f.Status4xx + f.Overload
}

// Latency summarizes the latency of successful requests, in milliseconds, measured
// from when each request was due.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Latency{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
		Mean:  h.Mean() / 1000,
	}
}

// Window is what happened to the requests due in one named window.
type Window struct {
	Name     string   `json:"name"`
	Requests int64    `json:"requests"`
	OK       int64    `json:"ok"`
	Failed   int64    `json:"failed"`
	Failures Failures `json:"failures"`
	Latency  Latency  `json:"latency"`
	// SendLag is how late the generator sent the window's requests: near zero unless the
	// generator itself was starved of CPU, in which case the machine, not the service,
	// explains part of the latency.
	SendLag Latency `json:"sendLag"`
	// Versions counts the window's responses by the version that served them: the
	// share of requests each version really took while the window lasted.
	Versions map[string]VersionStats `json:"versions,omitempty"`
}

// Share is the fraction of the window's responses that version served (0 without any).
func (w Window) Share(version string) float64 {
	var all int64
	for _, s := range w.Versions {
		all += s.Responses
	}
	if all == 0 {
		return 0
	}
	return float64(w.Versions[version].Responses) / float64(all)
}

// Mark is a moment recorded with Generator.Mark.
type Mark struct {
	Name   string    `json:"name"`
	At     time.Time `json:"at"`
	Window string    `json:"window"` // the window that starts here
}

// VersionStats counts the responses one version of the service gave.
type VersionStats struct {
	Responses int64 `json:"responses"`
	Errors    int64 `json:"errors"` // of which 5xx
}

// WebSocketReport is what the WebSocket clients saw.
type WebSocketReport struct {
	Clients  int   `json:"clients"`
	Sessions int64 `json:"sessions"` // connections made, first ones included
	// Reconnects are sessions the server ended with a reconnect instruction: users
	// moved between instances, as on a release.
	Reconnects int64 `json:"reconnects"`
	// Dropped are sessions that ended without a reconnect instruction: a user saw the
	// connection break.
	Dropped    int64 `json:"dropped"`
	DialErrors int64 `json:"dialErrors"` // connection attempts that failed
	Updates    int64 `json:"updates"`    // distinct changes received
	Duplicates int64 `json:"duplicates"` // changes received twice
	// Lost are changes a client never received: gaps in its seqs, and changes between
	// its last seq and the board's final seq after the settle time.
	Lost int64 `json:"lost"`
	// FinalSeq is each board's seq at the end, read through the API.
	FinalSeq map[string]int64 `json:"finalSeq,omitempty"`
	// VerifyError says why the final check could not be done; Lost then only counts
	// gaps.
	VerifyError string `json:"verifyError,omitempty"`
	// NotStarted counts clients that never learned their board's head, and so checked
	// nothing.
	NotStarted int `json:"notStarted,omitempty"`
}

// Report is the outcome of a load.
type Report struct {
	Target     string    `json:"target"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Seconds    float64   `json:"seconds"`    // of HTTP load
	Rate       float64   `json:"rate"`       // requested, per second
	ActualRate float64   `json:"actualRate"` // requests due per second
	WriteRatio float64   `json:"writeRatio"`

	Requests int64    `json:"requests"` // due, sent or not
	OK       int64    `json:"ok"`
	Failed   int64    `json:"failed"`
	Failures Failures `json:"failures"`
	// FailureSamples quotes the first failed requests (at most 10): when, what, why.
	FailureSamples []string `json:"failureSamples,omitempty"`
	Latency        Latency  `json:"latency"`

	Windows  []Window                `json:"windows"`
	Marks    []Mark                  `json:"marks,omitempty"`
	Versions map[string]VersionStats `json:"versions"`

	WebSocket *WebSocketReport `json:"websocket,omitempty"`
}

// ZeroLoss reports whether users lost nothing: every request succeeded, no WebSocket
// session broke without instruction and no update went missing.
func (r *Report) ZeroLoss() bool {
	if r.Failed > 0 {
		return false
	}
	if ws := r.WebSocket; ws != nil {
		return ws.Dropped == 0 && ws.Lost == 0 && ws.VerifyError == "" && ws.NotStarted == 0
	}
	return true
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // plain data: cannot fail
	return b
}

// String is the human summary.
func (r *Report) String() string {
	var b strings.Builder
	if r.Rate == 0 {
		fmt.Fprintf(&b, "load on %s: %.1fs of WebSocket clients only\n", r.Target, r.Seconds)
	} else {
		fmt.Fprintf(&b, "load on %s: %.1fs at %.0f req/s (asked %.0f), %.0f%% writes\n",
			r.Target, r.Seconds, r.ActualRate, r.Rate, r.WriteRatio*100)
		fmt.Fprintf(&b, "requests: %d, ok %d, failed %d%s\n", r.Requests, r.OK, r.Failed, failureText(r.Failures))
		fmt.Fprintf(&b, "latency:  %s\n", latencyText(r.Latency))
	}
	if len(r.Windows) > 1 && r.Rate > 0 {
		for _, w := range r.Windows {
			fmt.Fprintf(&b, "  %-14s requests %d, failed %d%s; %s%s\n", w.Name+":", w.Requests, w.Failed, failureText(w.Failures), latencyText(w.Latency), sharesText(w))
		}
	}
	if len(r.Versions) > 0 {
		b.WriteString("served by:")
		for _, v := range slices.Sorted(maps.Keys(r.Versions)) {
			s := r.Versions[v]
			fmt.Fprintf(&b, " %s %d", v, s.Responses)
			if s.Errors > 0 {
				fmt.Fprintf(&b, " (%d 5xx)", s.Errors)
			}
		}
		b.WriteString("\n")
	}
	if ws := r.WebSocket; ws != nil {
		fmt.Fprintf(&b, "websocket: %d clients, %d sessions, %d reconnects asked, %d dropped, %d dial errors; %d updates, %d lost, %d duplicates\n",
			ws.Clients, ws.Sessions, ws.Reconnects, ws.Dropped, ws.DialErrors, ws.Updates, ws.Lost, ws.Duplicates)
		if ws.VerifyError != "" {
			fmt.Fprintf(&b, "websocket: final check incomplete: %s\n", ws.VerifyError)
		}
	}
	for _, f := range r.FailureSamples {
		fmt.Fprintf(&b, "  failed: %s\n", f)
	}
	if r.ZeroLoss() {
		b.WriteString("verdict: nothing lost\n")
	} else {
		b.WriteString("verdict: users lost requests, sessions or updates\n")
	}
	return b.String()
}

// Causes names the causes of failure that occurred and how often, e.g. "conn 3, 5xx 1";
// empty when nothing failed.
func (f Failures) Causes() string {
	var parts []string
	for _, p := range []struct {
		n    int64
		name string
	}{{f.Conn, "conn"}, {f.Timeout, "timeout"}, {f.Status5xx, "5xx"}, {f.Status4xx, "4xx"}, {f.Overload, "overload"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", p.name, p.n))
		}
	}
	return strings.Join(parts, ", ")
}

func failureText(f Failures) string {
	if f.Total() == 0 {
		return ""
	}
	return " (" + f.Causes() + ")"
}

func latencyText(l Latency) string {
	if l.Count == 0 {
		return "no successful requests"
	}
	return fmt.Sprintf("p50 %.1fms, p99 %.1fms, max %.1fms", l.P50, l.P99, l.Max)
}

// Report returns the numbers so far; it can be called while the load runs. The
// WebSocket part only counts gaps until Stop has checked the final seqs.
func (g *Generator) Report() *Report {
	g.mu.Lock()
	final := g.final
	g.mu.Unlock()
	if final != nil {
		return final
	}
	return g.report(nil, nil)
}

func (g *Generator) report(heads map[string]int64, verifyErr error) *Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	end := g.stopped
	if end.IsZero() {
		end = time.Now()
	}
	r := &Report{
		Target:         g.cfg.BaseURL,
		Start:          g.started,
		End:            end,
		Rate:           g.cfg.Rate,
		WriteRatio:     g.cfg.WriteRatio,
		Requests:       g.total.requests,
		OK:             g.total.ok,
		Failed:         g.total.failures.Total(),
		Failures:       g.total.failures,
		Latency:        latencyOf(g.total.hist),
		FailureSamples: slices.Clone(g.samples),
		Marks:          slices.Clone(g.marks),
		Versions:       map[string]VersionStats{},
	}
	if !g.started.IsZero() {
		r.Seconds = end.Sub(g.started).Seconds()
		if r.Seconds > 0 {
			r.ActualRate = float64(r.Requests) / r.Seconds
		}
	}
	for _, name := range g.order {
		w := g.windows[name]
		win := Window{
			Name: name, Requests: w.requests, OK: w.ok, Failed: w.failures.Total(),
			Failures: w.failures, Latency: latencyOf(w.hist), SendLag: latencyOf(w.lag),
		}
		if len(w.versions) > 0 {
			win.Versions = map[string]VersionStats{}
			for v, s := range w.versions {
				win.Versions[v] = *s
			}
		}
		r.Windows = append(r.Windows, win)
	}
	for v, s := range g.versions {
		r.Versions[v] = *s
	}
	if len(g.followers) > 0 {
		ws := &WebSocketReport{Clients: len(g.followers), FinalSeq: heads}
		if verifyErr != nil {
			ws.VerifyError = verifyErr.Error()
		}
		for _, f := range g.followers {
			f.mu.Lock()
			ws.Sessions += f.sessions
			ws.Reconnects += f.reconnects
			ws.Dropped += f.drops
			ws.DialErrors += f.dialErrors
			ws.Updates += f.updates
			ws.Duplicates += f.duplicates
			ws.Lost += f.lost
			if !f.started {
				ws.NotStarted++
			} else if head, ok := heads[f.board]; ok && head > f.last {
				ws.Lost += head - f.last // never arrived, even after the settle time
			}
			f.mu.Unlock()
		}
		r.WebSocket = ws
	}
	return r
}

// sharesText is a window's share per version, when more than one version served it.
func sharesText(w Window) string {
	if len(w.Versions) < 2 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; served by")
	for _, v := range slices.Sorted(maps.Keys(w.Versions)) {
		fmt.Fprintf(&b, " %s %.1f%%", v, 100*w.Share(v))
	}
	return b.String()
}
