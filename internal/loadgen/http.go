package loadgen

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// VersionHeader names the response header that says which version served a request.
const VersionHeader = "X-Demoapp-Version"

// stats accumulates one window's requests; Generator.mu guards it.
type stats struct {
	name     string
	requests int64
	ok       int64
	failures Failures
	hist     *hdrhistogram.Histogram // latency of successful requests, in microseconds
	// lag is how late requests were sent, in microseconds: the generator's own delay,
	// which on a busy machine says how much of the latency is the machine's.
	lag *hdrhistogram.Histogram
	// inFlight counts the window's requests sent and not yet answered.
	inFlight int64
	// versions counts the window's responses by the version that served them.
	versions map[string]*VersionStats
}

// Latencies are recorded in microseconds from 1µs to one minute with 3 significant
// digits: a tenth of a percent of error at any scale.
const maxLatencyMicros = int64(time.Minute / time.Microsecond)

func newStats(name string) *stats {
	return &stats{
		name: name, hist: hdrhistogram.New(1, maxLatencyMicros, 3), lag: hdrhistogram.New(1, maxLatencyMicros, 3),
		versions: map[string]*VersionStats{},
	}
}

func (s *stats) record(ok bool, cause failureCause, latency time.Duration) {
	s.requests++
	if !ok {
		s.failures.add(cause)
		return
	}
	s.ok++
	us := latency.Microseconds()
	us = max(1, min(us, maxLatencyMicros))
	_ = s.hist.RecordValue(us) // in range by construction
}

type failureCause int

const (
	causeNone failureCause = iota
	causeConn
	causeTimeout
	cause5xx
	cause4xx
	causeOverload
)

func (f *Failures) add(c failureCause) {
	switch c {
	case causeConn:
		f.Conn++
	case causeTimeout:
		f.Timeout++
	case cause5xx:
		f.Status5xx++
	case cause4xx:
		f.Status4xx++
	case causeOverload:
		f.Overload++
	}
}

// schedule sends requests on a fixed clock until ctx ends, then waits for those in
// flight. Request i is due at start + i/Rate whatever happened to the earlier ones.
func (g *Generator) schedule(ctx context.Context) {
	var inFlight sync.WaitGroup
	if g.cfg.Rate == 0 {
		<-ctx.Done()
	} else {
		g.clock(ctx, &inFlight)
	}
	// The load lasted until the clock stopped; stragglers do not stretch the rate.
	g.mu.Lock()
	g.stopped = time.Now()
	g.mu.Unlock()
	inFlight.Wait()
}

func (g *Generator) clock(ctx context.Context, inFlight *sync.WaitGroup) {
	slots := make(chan struct{}, g.cfg.MaxInFlight)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := int64(0); ; i++ {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / g.cfg.Rate))
		if deadline, ok := ctx.Deadline(); ok && !due.Before(deadline) {
			return // Rate x Duration requests, not one more
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		// The window is read and the request counted in flight at once, so that once
		// Mark returns, Settled on the old window waits for every request counted in it.
		g.mu.Lock()
		w := g.current
		sent := false
		select {
		case slots <- struct{}{}:
			w.inFlight++
			sent = true
		default:
		}
		g.mu.Unlock()
		if sent {
			inFlight.Add(1)
			go func() {
				defer func() {
					g.mu.Lock()
					w.inFlight--
					g.mu.Unlock()
					<-slots
					inFlight.Done()
				}()
				g.send(i, due, w)
			}()
		} else {
			g.finish(w, "", false, causeOverload, 0, "")
		}
	}
}

// isWrite spreads writes evenly: request i writes when it crosses the next multiple of
// 1/WriteRatio, so any stretch of requests has the configured mix.
func (g *Generator) isWrite(i int64) bool {
	r := g.cfg.WriteRatio
	return math.Floor(float64(i+1)*r) > math.Floor(float64(i)*r)
}

func (g *Generator) send(i int64, due time.Time, w *stats) {
	g.sentLate(w, time.Since(due))
	board := g.cfg.Boards[i%int64(len(g.cfg.Boards))]
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
	defer cancel()
	var req *http.Request
	var err error
	if g.isWrite(i) {
		body := fmt.Sprintf(`{"text":"loadgen %d"}`, i)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.BaseURL+"/api/boards/"+board+"/items", strings.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/boards/%s/items?limit=%d", g.cfg.BaseURL, board, g.cfg.ReadLimit), nil)
	}
	if err != nil { // cannot happen with a validated BaseURL and board
		g.finish(w, "", false, causeConn, 0, err.Error())
		return
	}
	client := g.cfg.Client
	if len(g.sessions) > 0 {
		client = g.sessions[i%int64(len(g.sessions))]
	}
	resp, err := client.Do(req)
	if err != nil {
		g.finish(w, "", false, classify(err), 0, fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
		return
	}
	// Read the whole answer: the user waits for it, and the connection is reused.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	version := resp.Header.Get(VersionHeader)
	switch {
	case err != nil:
		g.finish(w, version, false, classify(err), 0, fmt.Sprintf("%s %s: reading the answer: %v", req.Method, req.URL.Path, err))
	case resp.StatusCode >= 400:
		cause := cause4xx
		if resp.StatusCode >= 500 {
			cause = cause5xx
		}
		g.finish(w, version, false, cause, 0, fmt.Sprintf("%s %s: %s from %s", req.Method, req.URL.Path, resp.Status, cmp.Or(version, "the load balancer")))
	default:
		g.finish(w, version, true, causeNone, time.Since(due), "")
	}
}

func classify(err error) failureCause {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return causeTimeout
	}
	return causeConn
}

func (g *Generator) sentLate(w *stats, lag time.Duration) {
	us := max(1, min(lag.Microseconds(), maxLatencyMicros))
	g.mu.Lock()
	defer g.mu.Unlock()
	_ = w.lag.RecordValue(us) // in range by construction
	_ = g.total.lag.RecordValue(us)
}

// maxFailureSamples bounds the failures a report quotes.
const maxFailureSamples = 10

func (g *Generator) finish(w *stats, version string, ok bool, cause failureCause, latency time.Duration, detail string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok && detail != "" && len(g.samples) < maxFailureSamples {
		g.samples = append(g.samples, time.Now().UTC().Format("15:04:05.000")+" "+detail)
	}
	w.record(ok, cause, latency)
	g.total.record(ok, cause, latency)
	if version != "" {
		countVersion(g.versions, version, cause)
		countVersion(w.versions, version, cause)
	}
}

func countVersion(m map[string]*VersionStats, version string, cause failureCause) {
	v := m[version]
	if v == nil {
		v = &VersionStats{}
		m[version] = v
	}
	v.Responses++
	if cause == cause5xx {
		v.Errors++
	}
}

// fetchHead reads a board's latest seq through the API.
func fetchHead(ctx context.Context, client *http.Client, base, board string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/boards/"+board+"/items?limit=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	var body struct {
		Seq *int64 `json:"seq"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	if body.Seq == nil {
		return 0, fmt.Errorf("GET %s: answer has no seq", req.URL.Path)
	}
	return *body.Seq, nil
}
