//go:build unix

// Package inplaceworld runs the on-premises world of an in-place release on this
// machine, for tests, benchmarks and the demo: a real HAProxy on loopback in front of
// fixed servers that are demo service processes, a supervisor that owns those
// processes, and the release spec that upgrades them where they stand. The spec's
// deploy command is curl asking the supervisor to restart one server's process on
// another version, as a real deploy (a package, an Ansible play) restarts a service.
package inplaceworld

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
	"github.com/zerodown/zerodown/schemas"
)

// VersionHeader is the header in which the demo service names its version.
const VersionHeader = "X-Demoapp-Version"

// Fault is what deploying one version does wrong.
type Fault struct {
	// Args are extra flags of the demo service on this version (--fail-health: it never
	// becomes healthy).
	Args []string
	// FailDeploy makes the deploy command fail without touching the server.
	FailDeploy bool
	// HangDeploy makes the deploy command hang until it is killed.
	HangDeploy bool
	// StopThenFail makes the deploy stop the server's process, then fail: the server is
	// left down, as by a package whose install broke half-way.
	StopThenFail bool
	// Servers are the servers it strikes; every server when empty.
	Servers []string
}

// fault is what deploying version on server does wrong.
func (w *World) fault(server, version string) Fault {
	f, ok := w.cfg.Faults[version]
	if !ok || (len(f.Servers) > 0 && !slices.Contains(f.Servers, server)) {
		return Fault{}
	}
	return f
}

// Config is the world to run.
type Config struct {
	// DemoBin is the demo service binary (haproxytest.BuildDemoapp).
	DemoBin string
	// BinFor, when set, is the demo service binary of a version (the demo's builds in
	// bin/releases/<version>/demoapp, one with a bug); DemoBin otherwise.
	BinFor func(version string) string
	// Servers is how many fixed servers; default 4.
	Servers int
	// Version is what every server runs at first; default v1.
	Version string
	// Args are flags every demo process gets.
	Args []string
	// Faults are per version.
	Faults map[string]Fault
	// HAProxy configures the load balancer (its Servers are filled in).
	HAProxy haproxytest.Config
}

// World is a running world.
type World struct {
	HAProxy *haproxytest.HAProxy
	// Store is the demo service's shared SQLite file.
	Store string
	// Names are the servers' names in the backend, web1 first.
	Names []string
	// DeployURL is the supervisor's deploy endpoint.
	DeployURL string

	dir     string
	cfg     Config
	mu      sync.Mutex
	procs   map[string]*process
	deploys []string
	srv     *http.Server
}

// process is one demo service process of a server.
type process struct {
	addr, version string
	cmd           *exec.Cmd
	done          chan struct{}
	log           string
}

// Start runs the world for a test; cleanup stops everything it started.
func Start(tb testing.TB, cfg Config) *World {
	tb.Helper()
	w, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("haproxy log:\n%s", w.HAProxy.Log())
		}
		if err := w.Close(); err != nil {
			tb.Error(err)
		}
	})
	return w
}

// New runs the world for a program (a benchmark, the demo); Close stops it.
func New(cfg Config) (w *World, err error) {
	if cfg.Servers == 0 {
		cfg.Servers = 4
	}
	if cfg.Version == "" {
		cfg.Version = "v1"
	}
	if _, err := exec.LookPath("curl"); err != nil {
		return nil, errors.New("curl is needed: the world's deploy command asks its supervisor with curl (apt-get install curl)")
	}
	dir, err := os.MkdirTemp("", "inplaceworld-")
	if err != nil {
		return nil, err
	}
	w = &World{Store: filepath.Join(dir, "board.db"), dir: dir, cfg: cfg, procs: map[string]*process{}}
	defer func() {
		if err != nil {
			_ = w.Close()
		}
	}()
	hcfg := cfg.HAProxy
	for i := range cfg.Servers {
		name := fmt.Sprintf("web%d", i+1)
		port, err := haproxytest.FreePort()
		if err != nil {
			return nil, err
		}
		p, err := w.start(fmt.Sprintf("127.0.0.1:%d", port), cfg.Version)
		if err != nil {
			return nil, err
		}
		w.procs[name] = p
		w.Names = append(w.Names, name)
		hcfg.Servers = append(hcfg.Servers, haproxytest.Server{Name: name, Addr: p.addr})
	}
	if w.HAProxy, err = haproxytest.Run(hcfg); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /deploy", w.serveDeploy)
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.srv.Serve(ln) }()
	w.DeployURL = "http://" + ln.Addr().String() + "/deploy"
	return w, nil
}

// Close stops the supervisor, HAProxy and every server process, and removes the files.
func (w *World) Close() error {
	var errs []error
	if w.srv != nil {
		errs = append(errs, w.srv.Close())
	}
	if w.HAProxy != nil {
		errs = append(errs, w.HAProxy.Close())
	}
	w.stopAll()
	errs = append(errs, os.RemoveAll(w.dir))
	return errors.Join(errs...)
}

// Spec is the in-place release spec of the world: service board, environment env, the
// first server the canary soaking soak, one server at a time, sessions moved off each
// server before it goes, deploys through the supervisor.
func (w *World) Spec(env string, soak time.Duration) schemas.Spec {
	runtimeAPI := w.HAProxy.Socket
	if w.HAProxy.MasterSocket != "" {
		runtimeAPI = w.HAProxy.MasterSocket
	}
	h := &schemas.HAProxySpec{RuntimeAPI: runtimeAPI, Backend: w.HAProxy.Backend, VersionPath: "/healthz", VersionHeader: VersionHeader}
	for _, name := range w.Names {
		h.Servers = append(h.Servers, schemas.HAProxyServer{Name: name, Address: w.Addr(name)})
	}
	s := schemas.Spec{
		Service: "board", Environment: env,
		Target:  schemas.Target{Provider: schemas.ProviderHAProxy, Instances: len(w.Names), HealthTimeout: schemas.Duration(30 * time.Second), HAProxy: h},
		Canary:  schemas.Canary{Soak: schemas.Duration(soak), Analysis: schemas.Analysis{Provider: schemas.AnalysisHealth, Interval: schemas.Duration(time.Second)}},
		Promote: schemas.Promote{Strategy: schemas.StrategyRolling, Batch: "1"},
		Drain: schemas.Drain{Timeout: schemas.Duration(30 * time.Second), SessionMigration: &schemas.SessionMigration{Path: "/admin/migrate"},
			// Clients that picked the server just before it left finish first.
			DeregistrationDelay: schemas.Duration(500 * time.Millisecond)},
		Rollback: schemas.Rollback{Automatic: true},
		Deploy: &schemas.Deploy{
			Command: []string{"curl", "--fail-with-body", "-sS", "--max-time", "120", "-X", "POST", w.DeployURL + "?server={{.Server}}&version={{.Version}}"},
			Timeout: schemas.Duration(2 * time.Minute),
		},
	}
	schemas.Defaults(&s)
	return s
}

// Addr is where a server answers directly.
func (w *World) Addr(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs[name].addr
}

// Versions is what each server's process runs now, by server.
func (w *World) Versions() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for name, p := range w.procs {
		out[name] = p.version
	}
	return out
}

// Deploys lists the deploys the supervisor was asked for, "web1 v2", in order.
func (w *World) Deploys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deploys)
}

// serveDeploy is the deploy endpoint: Restart, with the faults of the version.
func (w *World) serveDeploy(rw http.ResponseWriter, req *http.Request) {
	name, version := req.URL.Query().Get("server"), req.URL.Query().Get("version")
	w.mu.Lock()
	_, ok := w.procs[name]
	w.deploys = append(w.deploys, name+" "+version)
	w.mu.Unlock()
	if !ok || version == "" {
		http.Error(rw, "unknown server "+name, http.StatusNotFound)
		return
	}
	f := w.fault(name, version)
	switch {
	case f.HangDeploy:
		<-req.Context().Done() // until the deploy command is killed
		return
	case f.FailDeploy:
		http.Error(rw, "package board-"+version+" not found", http.StatusInternalServerError)
		return
	case f.StopThenFail:
		w.mu.Lock()
		p := w.procs[name]
		w.mu.Unlock()
		_ = p.stop()
		http.Error(rw, "board stopped; installing board-"+version+": no space left on device", http.StatusInternalServerError)
		return
	}
	if err := w.Restart(name, version); err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(rw, "%s runs %s\n", name, version)
}

// Restart replaces one server's process by version where it stands: SIGTERM, wait for
// it to end, start version on the same address, wait until it answers. It is the deploy
// and, called on each server in turn with nothing else, the naive in-place upgrade a
// benchmark compares the release with (no drain, no maintenance: HAProxy finds out from
// its checks).
func (w *World) Restart(name, version string) error {
	w.mu.Lock()
	old, ok := w.procs[name]
	w.mu.Unlock()
	if !ok {
		return fmt.Errorf("no server %s", name)
	}
	if err := old.stop(); err != nil {
		return err
	}
	p, err := w.start(old.addr, version, w.fault(name, version).Args...)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.procs[name] = p
	w.mu.Unlock()
	return nil
}

// start starts the demo service on addr and waits until it answers /healthz, healthy
// or not (HAProxy's checks say which).
func (w *World) start(addr, version string, extra ...string) (*process, error) {
	logf, err := os.CreateTemp("", "inplace-demoapp-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := append([]string{"--version", version, "--addr", addr, "--store", w.Store}, w.cfg.Args...)
	args = append(args, extra...)
	bin := w.cfg.DemoBin
	if w.cfg.BinFor != nil {
		bin = w.cfg.BinFor(version)
	}
	p := &process{addr: addr, version: version, cmd: exec.Command(bin, args...), done: make(chan struct{}), log: logf.Name()}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			return nil, fmt.Errorf("demoapp %s %s exited on start:\n%s", version, addr, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.stop()
			return nil, fmt.Errorf("demoapp %s %s does not answer within 30s: %v", version, addr, err)
		}
	}
}

// stop sends SIGTERM and waits for the process, killing it after 15s.
func (p *process) stop() error {
	defer os.Remove(p.log)
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not stop within 15s of SIGTERM; killed")
	}
}

func (w *World) stopAll() {
	w.mu.Lock()
	procs := make([]*process, 0, len(w.procs))
	for _, p := range w.procs {
		procs = append(procs, p)
	}
	w.mu.Unlock()
	for _, p := range procs {
		_ = p.stop()
	}
}
