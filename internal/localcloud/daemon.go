package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// Daemon is a running local cloud. Start one with Start (or Run, which also waits).
type Daemon struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	insts    map[string]*instance
	launches map[string]launch
	weights  map[string]int
	rotation versionRotation // where the weighted round robin stands
	// routed counts the answers relayed per version since the daemon started.
	routed map[string]int64
	// closed is set on shutdown: the exit watchers of a stopped daemon must leave the
	// state to whoever runs next.
	closed bool

	launchMu sync.Mutex // one launch at a time, so a key is never launched twice
	saveMu   sync.Mutex
	lastSD   []byte
	released bool // guarded by saveMu: no more writes to the state dir

	ctx    context.Context // health checks and watchers live until shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	apiLn, lbLn net.Listener
	apiSrv      *http.Server
	lbSrv       *http.Server
	backend     *http.Transport // the load balancer's connections to instances
	healthHTTP  *http.Client
	unlock      func()
	// lbClosing makes the load balancer answer Connection: close; lbConns counts its
	// client connections that are not hijacked, so a stop waits only while some are open.
	lbClosing atomic.Bool
	lbConns   atomic.Int64
	lbLastUse atomic.Int64 // unix nanoseconds of the last request begun or ended

	stopReq  chan api.ShutdownRequest // a shutdown asked through the API or Stop
	stopOnce sync.Once
	done     chan struct{}
	err      error
}

// Run starts the daemon and serves until ctx ends or the API asks it to stop. Instances
// keep running after it returns unless cfg.TerminateOnExit is set.
func Run(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	return d.Wait()
}

// Start adopts the instances recorded in the state dir, binds the API and the load
// balancer, and serves in the background until ctx ends.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Absolute, so that log paths in the API mean the same to every reader.
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = dir
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		unlock()
		return nil, err
	}
	// Bind before adopting anything, so a busy port fails fast and touches nothing.
	apiLn, lbLn, err := listeners(cfg)
	if err != nil {
		unlock()
		return nil, err
	}

	d := &Daemon{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "localcloud"),
		insts:    map[string]*instance{},
		launches: map[string]launch{},
		apiLn:    apiLn,
		lbLn:     lbLn,
		unlock:   unlock,
		stopReq:  make(chan api.ShutdownRequest, 1),
		done:     make(chan struct{}),
		backend:  newBackendTransport(),
		healthHTTP: &http.Client{
			// A fresh connection per check, as an ALB does, so a check proves the
			// instance still accepts connections; and no idle conns to dead instances.
			Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.adopt(st)
	d.persist()

	d.apiSrv = &http.Server{Handler: d.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
	d.lbSrv = &http.Server{
		Handler:           d.closingHandler(d.lbHandler()),
		ConnState:         d.countLBConn,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 2)
	for srv, ln := range map[*http.Server]net.Listener{d.apiSrv: apiLn, d.lbSrv: lbLn} {
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	d.log.Info("local cloud up", "api", d.APIAddr(), "lb", d.LBAddr(), "state", cfg.StateDir, "instances", len(st.Instances))

	go func() {
		terminate := cfg.TerminateOnExit
		select {
		case <-ctx.Done():
		case req := <-d.stopReq:
			terminate = (terminate || req.Terminate) && !req.KeepInstances
		case err := <-serveErr:
			d.err = err
		}
		d.shutdown(terminate)
	}()
	return d, nil
}

// listeners are the configured ones, else the inherited ones, else freshly bound.
func listeners(cfg Config) (apiLn, lbLn net.Listener, err error) {
	apiLn, lbLn = cfg.APIListener, cfg.LBListener
	if apiLn == nil && lbLn == nil {
		if apiLn, lbLn, err = inheritedListeners(); err != nil {
			return nil, nil, err
		}
	}
	closeAll := func() {
		for _, ln := range []net.Listener{apiLn, lbLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
	}
	if apiLn == nil {
		if apiLn, err = net.Listen("tcp", cfg.Listen); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("api listener: %w", err)
		}
	} else if err := checkAPIListener(apiLn); err != nil {
		closeAll()
		return nil, nil, err
	}
	if lbLn == nil {
		if lbLn, err = net.Listen("tcp", cfg.LB); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("load balancer listener: %w", err)
		}
	}
	return apiLn, lbLn, nil
}

// APIAddr is the bound API address (host:port).
func (d *Daemon) APIAddr() string { return d.apiLn.Addr().String() }

// LBAddr is the bound load balancer address (host:port).
func (d *Daemon) LBAddr() string { return d.lbLn.Addr().String() }

// Done is closed once the daemon has stopped.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Wait blocks until the daemon has stopped and returns why, if not asked to.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// closingHandler adds Connection: close to the load balancer's answers once the daemon
// stops, except to WebSocket upgrades, which the close would break.
func (d *Daemon) closingHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.lbClosing.Load() && r.Header.Get("Upgrade") == "" {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// countLBConn keeps lbConns: the load balancer's client connections still served.
func (d *Daemon) countLBConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		d.lbConns.Add(1)
	case http.StateActive, http.StateIdle:
		d.lbLastUse.Store(time.Now().UnixNano())
	case http.StateHijacked, http.StateClosed:
		d.lbConns.Add(-1)
	}
}

// lbQuiet is how long no request may have begun or ended on the load balancer before
// a stopping daemon takes its remaining client connections for idle ones.
const lbQuiet = 250 * time.Millisecond

// Stop asks the daemon to stop (terminating every instance if asked) and waits.
func (d *Daemon) Stop(terminate bool) error {
	d.stopOnce.Do(func() { d.stopReq <- api.ShutdownRequest{Terminate: terminate} })
	return d.Wait()
}

// shutdown stops serving, optionally stops every instance, and hands the state dir
// over in a state a successor can adopt.
func (d *Daemon) shutdown(terminate bool) {
	d.log.Info("local cloud stopping", "terminateInstances", terminate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.apiSrv.Shutdown(ctx) // no more API calls: nothing else changes the fleet

	// No new client connections (with a held listener they queue for the next daemon),
	// and busy keep-alive ones end after their next response; then in-flight requests
	// get a few seconds and what is left (WebSockets are hijacked and not tracked by
	// Shutdown) is cut: clients reconnect to the next daemon.
	d.lbClosing.Store(true)
	_ = d.lbLn.Close()
	for grace := time.Now().Add(d.cfg.CloseGrace); d.lbConns.Load() > 0 && time.Now().Before(grace); {
		// Connections left idle this long belong to clients that are not sending now.
		if time.Since(time.Unix(0, d.lbLastUse.Load())) > lbQuiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = d.lbSrv.Shutdown(ctx)
	_ = d.lbSrv.Close()
	d.mu.Lock()
	var open []*lease
	for _, in := range d.insts {
		open = append(open, d.leasesOf(in)...)
	}
	d.mu.Unlock()
	abortAll(open)

	if terminate {
		d.mu.Lock()
		var all []*instance
		for _, in := range d.insts {
			all = append(all, in)
		}
		d.mu.Unlock()
		d.terminate(all)
	}

	d.mu.Lock()
	d.closed = true
	for _, in := range d.insts {
		if in.drainTimer != nil {
			in.drainTimer.Stop()
		}
	}
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	d.persist()
	d.saveMu.Lock()
	d.released = true
	d.saveMu.Unlock()
	d.backend.CloseIdleConnections()
	d.unlock()
	d.log.Info("local cloud stopped")
	close(d.done)
}

// adopt rebuilds the fleet from the state file: live processes are watched and
// checked again, dead ones are reported as exited.
func (d *Daemon) adopt(st stateFile) {
	d.launches = st.Launches
	d.weights = st.Weights
	st.Instances = d.prune(st.Instances)
	var adopted, resumeStop []*instance
	for _, rec := range st.Instances {
		in := newInstance(rec)
		d.insts[rec.ID] = in
		switch {
		case !rec.live():
			in.markExited()
			continue
		case rec.PID == 0:
			d.markLost(in, "the daemon stopped before the process was started")
			continue
		case !alive(rec.PID, rec.StartTicks):
			d.markLost(in, fmt.Sprintf("process %d ended while the daemon was down", rec.PID))
			continue
		}
		if in.rec.Status == api.StatusStopping {
			resumeStop = append(resumeStop, in)
		} else {
			in.rec.Status = api.StatusRunning
		}
		adopted = append(adopted, in)
	}

	// Instances that were healthy serve again as soon as one check confirms it, so a
	// daemon restart costs no more than the restart itself.
	var wg sync.WaitGroup
	for _, in := range adopted {
		if !in.rec.Healthy || in.rec.Status != api.StatusRunning {
			in.rec.Healthy = false
			continue
		}
		wg.Go(func() {
			ok := d.probe(d.ctx, in.rec.address(), in.rec.HealthPath)
			in.rec.Healthy = ok
			if ok {
				in.okStreak = d.cfg.HealthyThreshold
			}
		})
	}
	wg.Wait()
	for _, in := range adopted {
		d.log.Info("adopted instance", "id", in.rec.ID, "version", in.rec.Version, "pid", in.rec.PID,
			"healthy", in.rec.Healthy, "attached", in.rec.Attached)
		d.watchAdopted(in)
		d.startHealth(in)
	}
	for _, in := range resumeStop {
		go d.terminate([]*instance{in})
	}
}

// forgetAfter is how long a terminated instance (and its launch key) is remembered:
// long enough for any retry of the launch that made it, short enough that the state
// file does not grow for ever.
const forgetAfter = 7 * 24 * time.Hour

// prune drops long-terminated instances, and launch keys none of whose instances is left.
func (d *Daemon) prune(recs []record) []record {
	kept := recs[:0]
	left := map[string]bool{}
	for _, rec := range recs {
		if rec.Status == api.StatusTerminated && time.Since(rec.EndedAt) > forgetAfter {
			continue
		}
		kept = append(kept, rec)
		left[rec.ID] = true
	}
	for key, l := range d.launches {
		if !slices.ContainsFunc(l.IDs, func(id string) bool { return left[id] }) {
			delete(d.launches, key)
		}
	}
	return kept
}

// markLost records an instance whose process vanished without an exit status.
func (d *Daemon) markLost(in *instance, why string) {
	in.rec.Status = api.StatusExited
	in.rec.Healthy = false
	in.rec.LastError = why
	in.rec.EndedAt = time.Now()
	in.markExited()
	d.log.Warn("instance lost", "id", in.rec.ID, "reason", why)
}

// watchAdopted polls an adopted process: it is not our child, so no Wait tells us
// when it ends.
func (d *Daemon) watchAdopted(in *instance) {
	pid, ticks := in.rec.PID, in.rec.StartTicks
	every := min(d.cfg.HealthInterval, 250*time.Millisecond)
	d.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-d.ctx.Done():
				return
			case <-in.exited:
				return
			case <-t.C:
			}
			if !alive(pid, ticks) {
				d.onExit(in, nil, fmt.Sprintf("process %d ended (adopted after a daemon restart: exit code unknown)", pid))
				return
			}
		}
	})
}

// onExit records the end of an instance's process.
func (d *Daemon) onExit(in *instance, code *int, why string) {
	in.markExited()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	in.rec.Healthy = false
	var open []*lease
	if in.rec.Status == api.StatusRunning || in.rec.Status == api.StatusPending {
		// On its own: a crash. A stopping instance is recorded by terminate.
		in.rec.Status = api.StatusExited
		in.rec.ExitCode = code
		in.rec.LastError = why
		in.rec.EndedAt = time.Now()
		open = d.leasesOf(in)
		d.log.Warn("instance exited", "id", in.rec.ID, "version", in.rec.Version, "reason", why)
	}
	d.mu.Unlock()
	in.stopHealth()
	abortAll(open)
	d.persist()
}
