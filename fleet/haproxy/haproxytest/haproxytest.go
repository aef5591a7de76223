//go:build unix

// Package haproxytest runs a real HAProxy on loopback for tests: its own configuration,
// an admin stats socket in a temporary directory and a frontend on a free port. It is
// never the system's service: every process it starts (reloads included) is stopped
// at cleanup, and a test fails if one outlives it.
package haproxytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/zerodown/zerodown/fleet/haproxy"
)

// Env names an haproxy binary to use instead of searching for one.
const Env = "HAPROXY"

// InstallHint is what to do when HAProxy is missing.
const InstallHint = "install it with `make haproxy` (Debian's package; CI does this in .ci/run), or set $" + Env + " to an haproxy binary"

// Binary finds HAProxy: $HAPROXY, then PATH, then /usr/sbin/haproxy (Debian's, which
// a user's PATH often lacks).
func Binary() (string, error) {
	if p := os.Getenv(Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s=%s: %w; %s", Env, p, err, InstallHint)
		}
		return p, nil
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("haproxy was not found ($" + Env + ", PATH, /usr/sbin); " + InstallHint)
}

// Server is a server of the backend's configuration.
type Server struct {
	Name, Addr string
}

// Config is the HAProxy to run.
type Config struct {
	// Backend is the backend's name; default "web".
	Backend string
	// Servers are the backend's configured servers; none for dynamic servers only.
	Servers []Server
	// CheckInterval is every server's health check interval; default 200ms.
	CheckInterval time.Duration
	// HealthPath is what the checks GET; default /healthz.
	HealthPath string
	// Balance is the backend's algorithm; default roundrobin.
	Balance string
	// Level is the stats socket's level; default admin.
	Level string
	// Cookie turns on cookie persistence (sticky sessions): HAProxy inserts a SERVERID
	// cookie naming the server that answered, and sends a client that returns it to that
	// server (`cookie SERVERID insert indirect nocache`, and `cookie <name>` per server).
	Cookie bool
	// MasterWorker runs HAProxy as Debian's unit does (-W -S): a master process with a
	// master CLI (MasterSocket) and a worker that each reload replaces.
	MasterWorker bool
}

// HAProxy is a running HAProxy and the files it uses.
type HAProxy struct {
	// Socket is the admin stats socket (the Runtime API).
	Socket string
	// URL is the frontend, e.g. http://127.0.0.1:41234.
	URL     string
	Backend string
	// StateFile is the server-state file loaded at start (load-server-state-from-file).
	StateFile string
	// MasterSocket is the master CLI, in master-worker mode.
	MasterSocket string

	bin, dir, config, logPath string

	mu      sync.Mutex
	current *process
	all     []*process
	workers map[int]bool // every worker seen, in master-worker mode
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

const configTemplate = `global
    stats socket {{.Socket}} level {{.Level}}
    server-state-file {{.StateFile}}
    # An old process left by a reload (-sf) ends within this, even with WebSockets open.
    hard-stop-after 30s

defaults
    mode http
    timeout connect 2s
    timeout client 1m
    timeout server 1m
    timeout tunnel 1h
    # Checks every 200ms, but a busy test machine may take longer to answer one.
    timeout check 2s
    retries 3
    option redispatch
    load-server-state-from-file global

frontend fe
    bind {{.Frontend}}
    default_backend {{.Backend}}

backend {{.Backend}}
    balance {{.Balance}}
    option httpchk GET {{.HealthPath}}
    http-check expect status 200
    default-server inter {{.Inter}} fall 3 rise 1
{{- if .Cookie}}
    cookie SERVERID insert indirect nocache
{{- end}}
{{- range .Servers}}
    server {{.Name}} {{.Addr}} check{{if $.Cookie}} cookie {{.Name}}{{end}}
{{- end}}
`

// Start writes the configuration, starts HAProxy in the foreground and returns once
// its Runtime API answers. Cleanup stops every process it started.
func Start(tb testing.TB, cfg Config) *HAProxy {
	tb.Helper()
	h, err := Run(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := h.stopAll(); err != nil {
			tb.Error(err)
		}
		if tb.Failed() {
			tb.Logf("haproxy log:\n%s", h.Log())
		}
		_ = os.RemoveAll(h.dir)
	})
	return h
}

// Run is Start for programs that are not tests (a benchmark, the demo): Close stops
// every process it started and removes its files.
func Run(cfg Config) (*HAProxy, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if cfg.Backend == "" {
		cfg.Backend = "web"
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 200 * time.Millisecond
	}
	if cfg.HealthPath == "" {
		cfg.HealthPath = "/healthz"
	}
	if cfg.Balance == "" {
		cfg.Balance = "roundrobin"
	}
	if cfg.Level == "" {
		cfg.Level = "admin"
	}
	// Unix socket paths are limited to about 100 bytes: t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "haproxytest-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	h := &HAProxy{
		Socket:    filepath.Join(dir, "admin.sock"),
		URL:       fmt.Sprintf("http://127.0.0.1:%d", port),
		Backend:   cfg.Backend,
		StateFile: filepath.Join(dir, "server-state"),
		bin:       bin,
		dir:       dir,
		config:    filepath.Join(dir, "haproxy.cfg"),
		logPath:   filepath.Join(dir, "haproxy.log"),
		workers:   map[int]bool{},
	}
	if cfg.MasterWorker {
		h.MasterSocket = filepath.Join(dir, "master.sock")
	}
	var b strings.Builder
	err = template.Must(template.New("cfg").Parse(configTemplate)).Execute(&b, map[string]any{
		"Socket": h.Socket, "StateFile": h.StateFile, "Frontend": fmt.Sprintf("127.0.0.1:%d", port),
		"Backend": cfg.Backend, "HealthPath": cfg.HealthPath, "Servers": cfg.Servers,
		"Inter":   fmt.Sprintf("%dms", cfg.CheckInterval.Milliseconds()),
		"Balance": cfg.Balance, "Level": cfg.Level, "Cookie": cfg.Cookie,
	})
	if err == nil {
		err = os.WriteFile(h.config, []byte(b.String()), 0o644)
	}
	if err == nil {
		err = h.start()
	}
	if err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

// Close stops every HAProxy process Run started and removes its files.
func (h *HAProxy) Close() error {
	err := h.stopAll()
	_ = os.RemoveAll(h.dir)
	return err
}

// Config is the configuration file HAProxy runs.
func (h *HAProxy) Config() string { return h.config }

// Log is what every HAProxy process of the test wrote.
func (h *HAProxy) Log() string {
	b, _ := os.ReadFile(h.logPath)
	return string(b)
}

// Client is a Runtime API client of this HAProxy.
func (h *HAProxy) Client() *haproxy.Client {
	c, err := haproxy.NewClient(h.Socket)
	if err != nil {
		panic(err) // the socket path is absolute
	}
	return c
}

// PID is the process started last (the master, in master-worker mode).
func (h *HAProxy) PID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.current.cmd.Process.Pid
}

// start runs a new HAProxy process with extra arguments (-sf for a reload) and waits
// until it answers on the Runtime API.
func (h *HAProxy) start(args ...string) error {
	logf, err := os.OpenFile(h.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	base := []string{"-db", "-f", h.config}
	if h.MasterSocket != "" {
		base = append(base, "-W", "-S", h.MasterSocket)
	}
	cmd := exec.Command(h.bin, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting haproxy: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	h.mu.Lock()
	h.current = p
	h.all = append(h.all, p)
	h.mu.Unlock()
	return h.waitServing(p, p.cmd.Process.Pid)
}

// waitServing returns once the stats socket is answered by the process p starts: p
// itself, or in master-worker mode a worker other than notPID (the one a reload
// replaces).
func (h *HAProxy) waitServing(p *process, notPID int) error {
	c := h.Client()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("haproxy exited on start: %s\n%s", p.cmd.ProcessState, h.Log())
		default:
		}
		pid, err := h.servingPID(c)
		if err == nil && h.MasterSocket != "" && pid != notPID {
			err = h.masterLists(pid) // the master CLI is back too (a reload re-executes the master)
			if err == nil {
				h.mu.Lock()
				h.workers[pid] = true
				h.mu.Unlock()
				return nil
			}
		}
		if err == nil && pid == p.cmd.Process.Pid {
			h.mu.Lock()
			h.workers[pid] = true
			h.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy (pid %d) did not answer on %s within 20s (last: %v)\n%s", p.cmd.Process.Pid, h.Socket, err, h.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterLists checks that the master CLI answers and lists pid as its current worker.
func (h *HAProxy) masterLists(pid int) error {
	c, err := haproxy.NewClient(h.MasterSocket)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := c.Exec(ctx, "show proc")
	if err != nil {
		return err
	}
	current, _, _ := strings.Cut(out, "# old workers")
	if !strings.Contains(current, fmt.Sprintf("\n%d ", pid)) {
		return fmt.Errorf("the master does not list worker %d yet: %q", pid, out)
	}
	return nil
}

// servingPID is the PID of the process that answers the stats socket.
func (h *HAProxy) servingPID(c *haproxy.Client) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := c.Exec(ctx, "show info")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(out, "\n") {
		if pid, ok := strings.CutPrefix(line, "Pid: "); ok {
			var n int
			_, err := fmt.Sscan(pid, &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no Pid in show info: %.200q", out)
}

// SaveState writes `show servers state` to the server-state file, as an operator's
// reload does (docs/onprem.md), so that the next process starts with the drains,
// maintenance and weights of this one.
func (h *HAProxy) SaveState(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	state, err := h.Client().ServersState(ctx)
	if err != nil {
		tb.Fatalf("saving server state: %v", err)
	}
	if err := os.WriteFile(h.StateFile, []byte(state), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Reload starts a new process that takes over the listeners, and tells the old one
// to finish its connections and stop (-sf), as `systemctl reload haproxy` does. With
// saveState, the server state is saved first.
func (h *HAProxy) Reload(tb testing.TB, saveState bool) {
	tb.Helper()
	if saveState {
		h.SaveState(tb)
	}
	if h.MasterSocket != "" {
		// The master re-executes itself and starts a new worker; the old one finishes.
		h.mu.Lock()
		master := h.current
		h.mu.Unlock()
		old, err := h.servingPID(h.Client())
		if err != nil {
			tb.Fatal(err)
		}
		if err := master.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
			tb.Fatal(err)
		}
		if err := h.waitServing(master, old); err != nil {
			tb.Fatalf("reloading haproxy: %v", err)
		}
		return
	}
	old := h.PID()
	if err := h.start("-sf", fmt.Sprint(old)); err != nil {
		tb.Fatalf("reloading haproxy: %v", err)
	}
}

// Restart stops HAProxy (every open connection is cut) and starts it again. With
// saveState, the server state is saved first.
func (h *HAProxy) Restart(tb testing.TB, saveState bool) {
	tb.Helper()
	if saveState {
		h.SaveState(tb)
	}
	h.StopCurrent(tb)
	h.StartAgain(tb)
}

// StopCurrent stops the serving process (SIGTERM, a hard stop: every connection is
// cut); StartAgain starts a new one. Between the two, the Runtime API is unreachable.
func (h *HAProxy) StopCurrent(tb testing.TB) {
	tb.Helper()
	h.mu.Lock()
	p := h.current
	h.mu.Unlock()
	if err := stop(p, syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
}

// StartAgain starts HAProxy with the same configuration, after StopCurrent.
func (h *HAProxy) StartAgain(tb testing.TB) {
	tb.Helper()
	if err := h.start(); err != nil {
		tb.Fatalf("starting haproxy again: %v", err)
	}
}

// Stop stops every process at once (SIGTERM: a hard stop) and waits for them.
func (h *HAProxy) Stop(tb testing.TB) {
	tb.Helper()
	if err := h.stopAll(); err != nil {
		tb.Error(err)
	}
}

func (h *HAProxy) stopAll() error {
	h.mu.Lock()
	all := h.all
	workers := h.workers
	h.mu.Unlock()
	var errs []error
	for _, p := range all {
		if err := stop(p, syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("haproxy pid %d: %v", p.cmd.Process.Pid, err))
		}
	}
	// A master stops its workers; check that none outlived it.
	for pid := range workers {
		deadline := time.Now().Add(10 * time.Second)
		for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				errs = append(errs, fmt.Errorf("haproxy worker %d outlived its master", pid))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

// stop signals p and waits for it to end, killing it after 10s; an error if it then
// still runs.
func stop(p *process, sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("did not stop within 10s of %s; killed", sig)
	case <-time.After(5 * time.Second):
		return errors.New("still running after SIGKILL")
	}
}

// Running reports whether a process of this HAProxy (old ones included) still runs.
func (h *HAProxy) Running() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	for _, p := range h.all {
		select {
		case <-p.done:
		default:
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
