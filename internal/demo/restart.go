package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/schemas"
)

// The services a World runs, by the names Restart and Kill take.
const (
	ServiceTemporal   = "temporal"
	ServiceLocalCloud = "localcloud"
	ServiceWorker     = "worker"
)

// Client is the world's Temporal client; it reconnects by itself after a server restart.
func (w *World) Client() client.Client { return w.client }

// Spec is the effective release spec: the demo's, with absolute paths.
func (w *World) Spec() schemas.Spec { return *w.spec }

// SpecPath is where the effective spec is written, for `zerodown start -f`.
func (w *World) SpecPath() string { return w.specPath }

// CloudAPI is the local cloud's API URL.
func (w *World) CloudAPI() string { return "http://" + w.opts.CloudAPI }

// Running reports whether the named service's latest process is alive.
func (w *World) Running(name string) bool {
	p := w.latest(name)
	return p != nil && p.running()
}

// PID is the process ID of the named service's latest process, 0 if it never started.
func (w *World) PID(name string) int {
	if p := w.latest(name); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// Kill sends SIGKILL to the named service, as a crash would: no shutdown code runs, no
// in-flight work is finished. It waits for the process to be gone.
func (w *World) Kill(name string) error {
	p := w.latest(name)
	if p == nil {
		return fmt.Errorf("no %s was started", name)
	}
	if !p.running() {
		return nil
	}
	// The group: a service never leaves a child behind (instances of the local cloud
	// live in groups of their own and survive, as they must).
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s (pid %d) still runs 30s after SIGKILL", name, p.cmd.Process.Pid)
	}
}

// Restart stops the named service — with SIGKILL when crash is set, else gracefully
// with up to 20 seconds to finish — and starts it again with the same command line,
// then waits until it answers (the worker is not waited for: it connects by itself).
// The local cloud stops gracefully through its API, keeping its instances for the
// next daemon (SIGTERM would terminate them: it runs with --terminate-on-exit).
// Each incarnation logs to its own file, so a crash's last words are kept.
func (w *World) Restart(ctx context.Context, name string, crash bool) error {
	p := w.latest(name)
	if p == nil {
		return fmt.Errorf("no %s was started", name)
	}
	switch {
	case crash:
		if err := w.Kill(name); err != nil {
			return err
		}
	case name == ServiceLocalCloud:
		if err := cloud(w.opts.CloudAPI).Shutdown(ctx, api.ShutdownRequest{KeepInstances: true}); err != nil {
			return fmt.Errorf("stop the local cloud: %w", err)
		}
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			return fmt.Errorf("the local cloud (pid %d) still runs 20s after it was asked to stop", p.cmd.Process.Pid)
		}
	default:
		p.stop(20 * time.Second)
	}
	return w.Revive(ctx, name)
}

// Revive starts the named service again, after Kill, with the same command line as its
// last process, and waits until it answers.
func (w *World) Revive(ctx context.Context, name string) error {
	p := w.latest(name)
	if p == nil {
		return fmt.Errorf("no %s was started", name)
	}
	if p.running() {
		return fmt.Errorf("%s (pid %d) still runs", name, p.cmd.Process.Pid)
	}
	if _, err := w.startWith(fmt.Sprintf("%s.%d", name, w.incarnations(name)), p.cmd.ExtraFiles, p.env, p.cmd.Path, p.cmd.Args[1:]...); err != nil {
		return err
	}
	switch name {
	case ServiceLocalCloud:
		if err := waitHTTP(ctx, w.CloudAPI()+api.PathHealthz, 30*time.Second); err != nil {
			return fmt.Errorf("the local cloud did not come back: %w", err)
		}
	case ServiceTemporal:
		if err := waitTemporal(ctx, w.client, time.Minute); err != nil {
			return fmt.Errorf("the Temporal server did not come back: %w", err)
		}
	}
	return nil
}

// latest is the named service's most recent process: the first is called name, the
// ones Revive starts name.1, name.2, ...
func (w *World) latest(name string) *proc {
	for i := len(w.procs) - 1; i >= 0; i-- {
		if p := w.procs[i]; p.name == name || strings.HasPrefix(p.name, name+".") {
			return p
		}
	}
	return nil
}

// incarnations counts the processes the named service has had.
func (w *World) incarnations(name string) int {
	n := 0
	for _, p := range w.procs {
		if p.name == name || strings.HasPrefix(p.name, name+".") {
			n++
		}
	}
	return n
}

// waitTemporal waits until the server behind c answers a health check.
func waitTemporal(ctx context.Context, c client.Client, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.CheckHealth(hctx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Command is `zerodown args...` from the world's binaries, talking to the world's
// Temporal server and local cloud.
func (w *World) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.bin("zerodown"), args...)
	cmd.Env = w.env()
	return cmd
}

// ProcessAlive reports whether pid is a live process. A zombie is not: it runs no code
// and holds no port, it only waits for its parent (init, for the orphans of a killed
// daemon) to reap it, which some container inits do late.
func ProcessAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) // no /proc here: trust kill(0)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// holdSockets listens on the addresses and returns copies of the sockets for a
// service to inherit; the world keeps them open until it stops, across restarts.
func (w *World) holdSockets(addrs ...string) ([]*os.File, error) {
	var files []*os.File
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		f, err := ln.(*net.TCPListener).File()
		_ = ln.Close() // f is a copy of its own: the socket stays open through it
		if err != nil {
			return nil, err
		}
		w.sockets = append(w.sockets, f)
		files = append(files, f)
	}
	return files, nil
}

// releaseSockets closes the held sockets, once no service needs them.
func (w *World) releaseSockets() {
	for _, f := range w.sockets {
		_ = f.Close()
	}
	w.sockets = nil
}

// CloudState is every instance the local cloud remembers, terminated ones too
// (GET /v1/state?all=1): what a benchmark checks launches and leaks against.
func (w *World) CloudState(ctx context.Context) (api.State, error) {
	return cloud(w.opts.CloudAPI).State(ctx, true)
}

// cloud is a client of the local cloud API at addr, for calls that need no spec.
func cloud(addr string) *local.Fleet {
	return local.New("http://"+addr, schemas.LocalSpec{})
}
