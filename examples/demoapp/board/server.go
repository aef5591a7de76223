// Package board is the demo service zerodown releases: a small collaborative board with
// an HTTP API, WebSocket change streams, a store shared by every instance, health,
// Prometheus metrics labelled with the version, session migration and injectable faults.
// examples/demoapp is its thin main.
package board

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// VersionHeader is set on every response so clients and load generators can tell which
// version served them.
const VersionHeader = "X-Demoapp-Version"

// Config configures a Server.
type Config struct {
	Version string // required; labels metrics and responses
	Store   *Store // required; shared by every instance
	// Backend, if set, makes the instance a front end: the base URL of the back end's load
	// balancer, which its API, WebSockets, /smoke and /sanity call (frontend.go).
	Backend string

	// Faults, to demonstrate a bad release.
	ErrorRate  float64       // fraction of API requests answered 500
	Latency    time.Duration // added to every API request
	FailHealth bool          // /healthz answers 503
	// UnhealthyAfter makes /healthz answer 503 once this long has passed since start: a
	// version that passes its first checks and goes bad while it soaks (a leak, say).
	UnhealthyAfter time.Duration
	// FailSanity makes /sanity answer 500 while /smoke and /healthz pass: a build whose
	// end-to-end path is broken though each instance looks fine.
	FailSanity bool
	// HandledErrorRate is the fraction of API requests that hit a bug the service
	// recovers from: the answer is still right, but the error goes to OnHandledError
	// (the demo's Sentry reporting), as errors an error tracker sees and users do not.
	HandledErrorRate float64
	// OnHandledError receives those errors, with the request's context.
	OnHandledError func(ctx context.Context, err error)

	// NoShutdownMigration makes Serve close WebSockets on shutdown without telling
	// clients to reconnect, as a service that knows nothing of session migration does;
	// /admin/migrate still works. Benchmarks use it to compare release procedures
	// without the service's own help.
	NoShutdownMigration bool

	// Observe, if set, wraps the API handler, faults included, and /smoke, so that an
	// error tracker (the demo's Sentry reporting) sees each request and its status.
	Observe func(http.Handler) http.Handler

	// PollInterval is how often the store's change log is polled for changes made
	// through other instances. Default 50ms.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Server serves one instance of the board.
type Server struct {
	cfg     Config
	store   *Store
	hub     *hub
	log     *slog.Logger
	handler http.Handler
	front   *frontend // nil unless Config.Backend is set

	draining atomic.Bool
	started  time.Time

	ctx    context.Context // ends when the server closes; WebSocket loops follow it
	cancel context.CancelFunc
	wsWG   sync.WaitGroup

	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	wsConns    prometheus.Gauge
	migrations prometheus.Counter
}

// New returns a Server and starts its change-log poller; call Close to stop it.
func New(cfg Config) (*Server, error) {
	if cfg.Version == "" {
		return nil, errors.New("board: Version is required")
	}
	if cfg.Store == nil {
		return nil, errors.New("board: Store is required")
	}
	if cfg.ErrorRate < 0 || cfg.ErrorRate > 1 {
		return nil, fmt.Errorf("board: ErrorRate %v is not in [0,1]", cfg.ErrorRate)
	}
	if cfg.HandledErrorRate < 0 || cfg.HandledErrorRate > 1 {
		return nil, fmt.Errorf("board: HandledErrorRate %v is not in [0,1]", cfg.HandledErrorRate)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, started: time.Now()}
	if cfg.Backend != "" {
		f, err := newFrontend(cfg.Backend)
		if err != nil {
			return nil, err
		}
		s.front = f
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.initMetrics()
	s.hub = newHub(s.store, cfg.PollInterval, s.log)
	go s.hub.run(s.ctx)
	s.handler = s.routes()
	return s, nil
}

func (s *Server) initMetrics() {
	s.registry = prometheus.NewRegistry()
	// Wrapping the registerer puts version on every application series, so a
	// canary-vs-baseline query can always select by version. The runtime collectors
	// stay unwrapped: go_info already has a version label (Go's own).
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"version": s.cfg.Version}, s.registry)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "User-facing requests (API, WebSocket upgrades, smoke), by status code and method. Probes and scrapes are not counted so they cannot dilute the error rate.",
	}, []string{"code", "method"})
	s.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Latency of API requests, fault-injected latency included.",
		Buckets: prometheus.DefBuckets,
	})
	s.wsConns = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "websocket_connections",
		Help: "Open WebSocket connections.",
	})
	s.migrations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "websocket_migrations_total",
		Help: "WebSocket clients told to reconnect elsewhere.",
	})
	// The error series exist from the start at 0: PromQL's rate() needs two samples of a
	// series, so a series born with the first error would be seen one scrape late.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		s.requests.WithLabelValues("500", m)
	}
	reg.MustRegister(s.requests, s.duration, s.wsConns, s.migrations)
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler returns the HTTP handler of the instance.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the Prometheus registry served on /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/boards/{board}/items", s.listItems)
	api.HandleFunc("POST /api/boards/{board}/items", s.createItem)
	api.HandleFunc("PUT /api/boards/{board}/items/{id}", s.updateItem)

	var apiHandler http.Handler = api
	ws := http.HandlerFunc(s.serveWS)
	if s.front != nil {
		apiHandler, ws = s.front.proxy, s.serveWSRelay
	}

	// What users call is observed (counted as requests by an error tracker); probes are not.
	observe := func(h http.Handler) http.Handler { return h }
	if s.cfg.Observe != nil {
		observe = s.cfg.Observe
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", s.instrument(observe(s.faults(apiHandler)), true))
	mux.Handle("GET /ws", s.instrument(ws, false))
	mux.Handle("GET /smoke", s.instrument(observe(http.HandlerFunc(s.smoke)), true))
	// /sanity is the end-to-end test of a change, read through the load balancer; like
	// probes it is not counted, so a failing sanity test does not move the error rate.
	mux.HandleFunc("GET /sanity", s.sanity)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("POST /admin/migrate", s.adminMigrate)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(VersionHeader, s.cfg.Version)
		mux.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code. Unwrap lets the WebSocket library reach
// the underlying Hijacker.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) instrument(next http.Handler, timed bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		switch rec.code {
		case http.StatusSwitchingProtocols:
			return // a WebSocket, counted when upgraded rather than when it ends hours later
		case 0:
			rec.code = http.StatusOK
		}
		s.requests.WithLabelValues(strconv.Itoa(rec.code), r.Method).Inc()
		if timed {
			s.duration.Observe(time.Since(start).Seconds())
		}
	})
}

// ErrHandledFault is the bug a HandledErrorRate fault hits and recovers from.
var ErrHandledFault = errors.New("injected handled fault: item cache inconsistent, read through to the store")

// faults injects the configured latency and errors in front of the API.
func (s *Server) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := s.cfg.Latency; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if s.cfg.ErrorRate > 0 && rand.Float64() < s.cfg.ErrorRate {
			httpError(w, http.StatusInternalServerError, "injected fault")
			return
		}
		if s.cfg.HandledErrorRate > 0 && rand.Float64() < s.cfg.HandledErrorRate && s.cfg.OnHandledError != nil {
			s.cfg.OnHandledError(r.Context(), ErrHandledFault)
		}
		next.ServeHTTP(w, r)
	})
}

var boardName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

const (
	defaultLimit = 100
	maxLimit     = 1000
	maxBody      = 64 << 10
)

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) boardParam(w http.ResponseWriter, board string) bool {
	if !boardName.MatchString(board) {
		httpError(w, http.StatusBadRequest, "board must match "+boardName.String())
		return false
	}
	return true
}

// ItemList is the answer to GET /api/boards/{board}/items: the board's head seq and its
// latest items, newest first.
type ItemList struct {
	Board string `json:"board"`
	Seq   int64  `json:"seq"`
	Items []Item `json:"items"`
}

func (s *Server) listItems(w http.ResponseWriter, r *http.Request) {
	board := r.PathValue("board")
	if !s.boardParam(w, board) {
		return
	}
	limit := defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", maxLimit))
			return
		}
		limit = n
	}
	head, items, err := s.store.List(r.Context(), board, limit)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ItemList{Board: board, Seq: head, Items: items})
}

type itemBody struct {
	Text *string `json:"text"`
}

func readText(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body itemBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		httpError(w, http.StatusBadRequest, "body must be JSON {\"text\": \"...\"}: "+err.Error())
		return "", false
	}
	if body.Text == nil {
		httpError(w, http.StatusBadRequest, "text is required")
		return "", false
	}
	return *body.Text, true
}

func (s *Server) createItem(w http.ResponseWriter, r *http.Request) {
	board := r.PathValue("board")
	if !s.boardParam(w, board) {
		return
	}
	text, ok := readText(w, r)
	if !ok {
		return
	}
	it, err := s.store.CreateBy(r.Context(), board, text, s.cfg.Version, r.Header.Get(UserHeader))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.hub.notify()
	writeJSON(w, http.StatusCreated, it)
}

func (s *Server) updateItem(w http.ResponseWriter, r *http.Request) {
	board := r.PathValue("board")
	if !s.boardParam(w, board) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpError(w, http.StatusBadRequest, "id must be an integer")
		return
	}
	text, ok := readText(w, r)
	if !ok {
		return
	}
	it, err := s.store.Update(r.Context(), board, id, text, s.cfg.Version)
	if errors.Is(err, ErrNotFound) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no item %d on board %s", id, board))
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.hub.notify()
	writeJSON(w, http.StatusOK, it)
}

func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("store", "method", r.Method, "path", r.URL.Path, "err", err)
	httpError(w, http.StatusInternalServerError, "store: "+err.Error())
}

// smoke checks the instance end to end (a write and a read through the store) for
// pre-traffic hooks. Injected random errors do not apply: a hook should fail on a
// broken instance, not on a coin toss; the canary analysis catches error rates.
func (s *Server) smoke(w http.ResponseWriter, r *http.Request) {
	if s.front != nil {
		back, err := s.front.smoke(r.Context())
		if err != nil {
			httpError(w, http.StatusBadGateway, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "version": s.cfg.Version, "backend": back})
		return
	}
	it, err := s.store.CreateBy(r.Context(), "_smoke", "smoke", s.cfg.Version, "smoke")
	if err == nil {
		_, _, err = s.store.List(r.Context(), "_smoke", 1)
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "version": s.cfg.Version, "seq": it.Seq})
}

// sanity is smoke unless the build carries the sanity fault.
func (s *Server) sanity(w http.ResponseWriter, r *http.Request) {
	if s.cfg.FailSanity {
		httpError(w, http.StatusInternalServerError, errSanityFault.Error())
		return
	}
	s.smoke(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case s.cfg.FailHealth, s.cfg.UnhealthyAfter > 0 && time.Since(s.started) > s.cfg.UnhealthyAfter:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "unhealthy %s\n", s.cfg.Version)
	case s.draining.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "draining %s\n", s.cfg.Version)
	default:
		fmt.Fprintf(w, "ok %s\n", s.cfg.Version)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		// A draining instance sends clients elsewhere instead of taking new ones.
		httpError(w, http.StatusServiceUnavailable, "draining")
		return
	}
	board := r.URL.Query().Get("board")
	if !s.boardParam(w, board) {
		return
	}
	since := int64(-1)
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			httpError(w, http.StatusBadRequest, "since must be a non-negative integer")
			return
		}
		since = n
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	s.requests.WithLabelValues(strconv.Itoa(http.StatusSwitchingProtocols), r.Method).Inc()
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	defer conn.CloseNow()
	// Clients only listen; CloseRead answers pings and closes and ends ctx when the
	// peer goes away. The request context must not be used after Accept.
	ctx := conn.CloseRead(s.ctx)

	// Subscribe before reading the head, so no change falls between the two.
	cl := newClient(board, conn, since)
	s.hub.subscribe(cl)
	s.wsConns.Inc()
	defer func() {
		s.hub.unsubscribe(cl)
		s.wsConns.Dec()
		close(cl.done)
	}()
	if since < 0 {
		head, err := s.store.Head(ctx, board)
		if err != nil {
			s.log.Error("ws: reading head", "board", board, "err", err)
			_ = conn.Close(websocket.StatusInternalError, "store error")
			return
		}
		cl.lastSent = head
	}
	if s.draining.Load() {
		cl.askMigrate() // draining began while this client connected
	}
	migrated, err := cl.loop(ctx, s.store, s.cfg.Version)
	if migrated {
		s.migrations.Inc()
	}
	if err != nil && s.ctx.Err() == nil && websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
		s.log.Debug("ws: client ended", "board", board, "err", err)
	}
}

// Migrate tells every connected WebSocket client to reconnect elsewhere and waits until
// they are gone or ctx ends. It returns how many clients were asked.
func (s *Server) Migrate(ctx context.Context) int {
	clients := s.hub.clients()
	var done []chan struct{}
	for _, cl := range clients {
		cl.askMigrate()
		done = append(done, cl.done)
	}
	if s.front != nil {
		for _, rl := range s.front.all() {
			rl.askMigrate()
			done = append(done, rl.done)
		}
	}
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return len(done)
		}
	}
	return len(done)
}

func (s *Server) adminMigrate(w http.ResponseWriter, r *http.Request) {
	n := s.Migrate(r.Context())
	s.log.Info("migrated websocket clients", "count", n)
	writeJSON(w, http.StatusOK, map[string]any{"migrated": n, "version": s.cfg.Version})
}

// Drain makes /healthz answer 503 and refuses new WebSocket clients, so load balancers
// stop sending traffic here before the instance goes away.
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops the poller and drops any WebSocket client still connected. It does not
// close the store, which the caller owns.
func (s *Server) Close() {
	s.cancel()
	s.wsWG.Wait()
	<-s.hub.stopped
}

// Serve serves on ln until ctx ends, then shuts down gracefully: /healthz goes 503, the
// listener closes after drainDelay, in-flight requests finish, WebSocket clients are
// told to reconnect elsewhere (unless Config.NoShutdownMigration); all of it bounded
// by timeout. It closes the Server.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drainDelay, timeout time.Duration) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}

	start := time.Now()
	s.log.Info("shutting down", "clients", len(s.hub.clients()), "timeout", timeout)
	s.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if drainDelay > 0 {
		// Keep serving while health checks notice the 503 and take the instance out.
		select {
		case <-time.After(drainDelay):
		case <-sctx.Done():
		}
	}
	var shutdownErr error
	var wg sync.WaitGroup
	wg.Go(func() { shutdownErr = hs.Shutdown(sctx) }) // closes the listener, waits for in-flight requests
	migrated := 0
	if !s.cfg.NoShutdownMigration {
		migrated = s.Migrate(sctx) // hijacked WebSockets are not Shutdown's business
	}
	wg.Wait()
	if shutdownErr != nil {
		_ = hs.Close() // out of time: cut what is still running
	}
	s.Close()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("graceful shutdown: %w", shutdownErr)
	}
	s.log.Info("shut down", "migrated", migrated, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
