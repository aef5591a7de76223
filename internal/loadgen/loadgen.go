// Package loadgen drives the demo service the way its users would, and measures what a
// release costs them: an open-loop stream of HTTP reads and writes at a constant rate,
// and WebSocket clients that follow board changes through migrations and count every
// update they never saw. The demo, the integration tests and the benchmarks use it to
// prove "zero downtime" with numbers.
//
// Open loop means requests are sent on a fixed clock whatever the responses do, and
// latency is measured from when a request was due, not when it was sent; a stalled
// server therefore shows up as failures and high percentiles instead of quietly
// lowering the request rate (coordinated omission).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config describes a load.
type Config struct {
	// BaseURL is where users reach the service: the load balancer, e.g.
	// http://127.0.0.1:8080.
	BaseURL string
	// Rate is HTTP requests per second. Zero sends no HTTP load (WebSocket clients
	// only).
	Rate float64
	// Duration bounds Run; zero runs until its context ends. Start/Stop ignore it.
	Duration time.Duration
	// WriteRatio is the fraction of requests that are writes (POST an item); the rest
	// read (GET items). Zero means reads only.
	WriteRatio float64
	// Timeout bounds each request and each WebSocket dial. Default 2s.
	Timeout time.Duration
	// MaxInFlight caps concurrent requests; a request due while the cap is reached is
	// not sent and counts as failed by overload. Default Rate*Timeout plus headroom, so
	// only a generator that cannot keep up overloads.
	MaxInFlight int
	// Boards are the boards requests and WebSocket clients spread over, round robin.
	// Default ["loadgen"].
	Boards []string
	// WSClients is the number of WebSocket clients following board changes.
	WSClients int
	// Settle is how long Stop waits after the last request for WebSocket clients to
	// receive the last changes before they are checked against the store. Default 2s.
	Settle time.Duration
	// ReadLimit is the limit= of read requests, keeping reads cheap on big boards.
	// Default 20.
	ReadLimit int
	// Client sends the HTTP requests; default a client pooling MaxInFlight connections.
	Client *http.Client
	// Sessions, when positive, spreads the HTTP requests round robin over that many
	// users, each keeping the cookies the service and its load balancer set (its own
	// cookie jar over Client's transport), as browsers do: with a sticky load balancer a
	// user then stays on the version it first reached. Zero sends no cookies, so each
	// request is placed by the load balancer on its own.
	Sessions int
	// Logger receives debug lines about drops and reconnects; default discards.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("loadgen: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return fmt.Errorf("loadgen: Rate %v must be >= 0", c.Rate)
	}
	if c.WriteRatio < 0 || c.WriteRatio > 1 {
		return fmt.Errorf("loadgen: WriteRatio %v is not in [0,1]", c.WriteRatio)
	}
	if c.WSClients < 0 || c.Duration < 0 || c.Timeout < 0 || c.Settle < 0 || c.MaxInFlight < 0 || c.Sessions < 0 {
		return errors.New("loadgen: WSClients, Duration, Timeout, Settle, MaxInFlight and Sessions must not be negative")
	}
	if c.Sessions > maxSessions {
		return fmt.Errorf("loadgen: Sessions %d is more than %d", c.Sessions, maxSessions)
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = int(math.Ceil(c.Rate*c.Timeout.Seconds()*1.2)) + 16
	}
	if len(c.Boards) == 0 {
		c.Boards = []string{"loadgen"}
	}
	for _, b := range c.Boards {
		if b == "" || url.PathEscape(b) != b {
			return fmt.Errorf("loadgen: board name %q must be URL-safe", b)
		}
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = 20
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // always talk to the load balancer itself
			MaxIdleConns:        c.MaxInFlight,
			MaxIdleConnsPerHost: c.MaxInFlight,
			IdleConnTimeout:     30 * time.Second,
		}}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// maxSessions bounds the cookie jars a load keeps.
const maxSessions = 100_000

// Generator runs one load. Start it, Mark the interesting moments, Stop it for the
// report.
type Generator struct {
	cfg Config

	mu      sync.Mutex
	started time.Time
	stopped time.Time
	windows map[string]*stats
	order   []string // window names in order of first use
	current *stats
	marks   []Mark
	// versions counts responses by the X-Demoapp-Version that served them.
	versions map[string]*VersionStats
	// sessions are the users' clients when Config.Sessions is set.
	sessions []*http.Client
	// samples quotes the first failed requests, so a failure can be explained.
	samples []string
	total   *stats

	followers []*follower

	stopLoad  context.CancelFunc
	loadDone  chan struct{}
	stopWS    context.CancelFunc
	wsDone    sync.WaitGroup
	stopOnce  sync.Once
	final     *Report // guarded by mu
	startOnce sync.Once
}

// New validates cfg and returns a Generator ready to Start.
func New(cfg Config) (*Generator, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:      cfg,
		windows:  map[string]*stats{},
		versions: map[string]*VersionStats{},
		total:    newStats("total"),
		loadDone: make(chan struct{}),
	}
	g.current = g.window(SteadyWindow)
	for range cfg.Sessions {
		jar, _ := cookiejar.New(nil) // cannot fail without options
		g.sessions = append(g.sessions, &http.Client{Transport: cfg.Client.Transport, Jar: jar, Timeout: cfg.Client.Timeout})
	}
	return g, nil
}

// SteadyWindow is the window before any mark, and the one a "<name>-end" mark returns to.
const SteadyWindow = "steady"

// window returns the named window, creating it; g.mu held.
func (g *Generator) window(name string) *stats {
	w, ok := g.windows[name]
	if !ok {
		w = newStats(name)
		g.windows[name] = w
		g.order = append(g.order, name)
	}
	return w
}

// Mark records a moment and switches the window that the following requests count in,
// so the report can compare latency and failures before, during and after a release.
// Mark("release-start") opens window "release" and Mark("release-end") returns to
// "steady"; any other name opens a window of that name. Windows with the same name
// add up.
func (g *Generator) Mark(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	label := name
	switch {
	case strings.HasSuffix(name, "-start") && len(name) > len("-start"):
		label = strings.TrimSuffix(name, "-start")
	case strings.HasSuffix(name, "-end"):
		label = SteadyWindow
	}
	g.current = g.window(label)
	g.marks = append(g.marks, Mark{Name: name, At: time.Now(), Window: label})
}

// Settled waits until no request of the named window is in flight: after
// Mark("crash-start"), so that requests sent before a crash are not judged by it.
func (g *Generator) Settled(ctx context.Context, window string) error {
	for {
		g.mu.Lock()
		var n int64
		if w := g.windows[window]; w != nil {
			n = w.inFlight
		}
		g.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: %d request(s) of %s still in flight: %w", n, window, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Start connects the WebSocket clients (waiting up to Timeout for their first
// connection, so the first writes are already watched) and starts the HTTP load. The
// load runs until ctx ends or Stop is called.
func (g *Generator) Start(ctx context.Context) error {
	err := errors.New("loadgen: already started")
	g.startOnce.Do(func() {
		err = nil
		wsCtx, stopWS := context.WithCancel(context.Background())
		g.stopWS = stopWS
		ready := make(chan struct{}, g.cfg.WSClients)
		for i := range g.cfg.WSClients {
			f := &follower{g: g, id: i, board: g.cfg.Boards[i%len(g.cfg.Boards)]}
			g.followers = append(g.followers, f)
			g.wsDone.Add(1)
			go func() {
				defer g.wsDone.Done()
				f.run(wsCtx, ready)
			}()
		}
		wait := time.NewTimer(g.cfg.Timeout)
		defer wait.Stop()
	waitReady:
		for range g.cfg.WSClients {
			select {
			case <-ready:
			case <-wait.C:
				g.cfg.Logger.Warn("loadgen: not every WebSocket client connected in time; starting the load anyway")
				break waitReady
			case <-ctx.Done():
				break waitReady
			}
		}

		loadCtx, stopLoad := context.WithCancel(ctx)
		g.stopLoad = stopLoad
		g.mu.Lock()
		g.started = time.Now()
		g.mu.Unlock()
		go func() {
			defer close(g.loadDone)
			g.schedule(loadCtx)
		}()
	})
	return err
}

// Stop ends the HTTP load and waits for requests in flight, lets the WebSocket clients
// settle, checks what they saw against each board's final seq, and returns the final
// report. Later calls return the same report.
func (g *Generator) Stop() *Report {
	g.stopOnce.Do(func() {
		if g.stopLoad == nil { // never started
			g.setFinal(g.report(nil, nil))
			return
		}
		g.stopLoad()
		<-g.loadDone

		var heads map[string]int64
		var verifyErr error
		if len(g.followers) > 0 {
			time.Sleep(g.cfg.Settle)
			heads, verifyErr = g.fetchHeads()
		}
		g.stopWS()
		g.wsDone.Wait()
		if t, ok := g.cfg.Client.Transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
		g.setFinal(g.report(heads, verifyErr))
	})
	return g.Report()
}

func (g *Generator) setFinal(r *Report) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.final = r
}

// Run starts a load, lets it run for cfg.Duration or until ctx ends, whichever comes
// first, and returns the final report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if err := g.Start(runCtx); err != nil {
		return nil, err
	}
	<-runCtx.Done()
	return g.Stop(), nil
}

// fetchHeads reads each followed board's latest seq through the API.
func (g *Generator) fetchHeads() (map[string]int64, error) {
	heads := map[string]int64{}
	var errs []error
	for _, b := range g.cfg.Boards {
		var seq int64
		var err error
		// The fleet may still be settling after a release: retry a little.
		for attempt := range 5 {
			if attempt > 0 {
				time.Sleep(200 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
			seq, err = fetchHead(ctx, g.cfg.Client, g.cfg.BaseURL, b)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("board %s: %w", b, err))
			continue
		}
		heads[b] = seq
	}
	return heads, errors.Join(errs...)
}
