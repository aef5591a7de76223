package demo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// proc is a service the demo started, in its own process group so that a Ctrl-C in the
// terminal reaches the demo first, which then stops everything in order.
type proc struct {
	name string
	cmd  *exec.Cmd
	env  []string // added to the world's environment, for a restart
	done chan struct{}
}

func (w *World) start(name, exe string, args ...string) (*proc, error) {
	return w.startWith(name, nil, nil, exe, args...)
}

// startWith starts a service with files as its descriptors 3, 4, ... and env added to
// the world's environment.
func (w *World) startWith(name string, files []*os.File, env []string, exe string, args ...string) (*proc, error) {
	logf, err := os.Create(w.logPath(name))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = w.opts.Root
	cmd.Env = append(w.env(), env...)
	cmd.ExtraFiles = files
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, exe, err)
	}
	p := &proc{name: name, cmd: cmd, env: env, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	w.procs = append(w.procs, p)
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after timeout.
func (p *proc) stop(timeout time.Duration) {
	if !p.running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// TemporalCLI finds the Temporal CLI that starts the dev server: $TEMPORAL_CLI (which
// the Makefile sets to the pinned one), then PATH.
func TemporalCLI() (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("temporal")
	if err != nil {
		return "", errors.New("the Temporal CLI is missing: run `make temporal-cli` or set TEMPORAL_CLI")
	}
	return p, nil
}

// dial connects to Temporal, waiting for a server that is still starting.
func dial(ctx context.Context, addr string) (client.Client, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := client.Dial(client.Options{HostPort: addr, Logger: sdklog.NewStructuredLogger(quiet())})
		if err == nil {
			if _, err = c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
				return c, nil
			}
			c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("no answer from Temporal at %s: %w", addr, errors.Join(err, ctx.Err()))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// indent writes each line of a child's output indented under the demo's own lines.
func indent(w io.Writer) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			fmt.Fprintf(w, "          %s\n", s.Bytes())
		}
	}()
	return pw
}

// Build compiles what the demo runs into binDir: zerodown, zerodown-worker, and one
// demoapp build per version, v3 with a bug baked in (every request takes 250ms longer:
// it stays healthy, so only the canary analysis can catch it) and v4 with a bug only
// Sentry sees.
func Build(ctx context.Context, root, binDir string) error {
	builds := [][]string{
		{"-o", filepath.Join(binDir, "zerodown"), "./starter"},
		{"-o", filepath.Join(binDir, "zerodown-worker"), "./worker"},
		{"-o", filepath.Join(binDir, "releases", "v1", "demoapp"), "./examples/demoapp"},
		{"-o", filepath.Join(binDir, "releases", "v2", "demoapp"), "./examples/demoapp"},
		{"-ldflags", "-X main.bakedFlags=" + BadBuildFlags, "-o", filepath.Join(binDir, "releases", "v3", "demoapp"), "./examples/demoapp"},
		{"-ldflags", "-X main.bakedFlags=" + SentryBadBuildFlags, "-o", filepath.Join(binDir, "releases", SentryBadVersion, "demoapp"), "./examples/demoapp"},
	}
	return goBuild(ctx, root, builds)
}

// goBuild runs `go build` with each argument list in turn, in root.
func goBuild(ctx context.Context, root string, builds [][]string) error {
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, b...)...)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %v: %w\n%s", b, err, out.String())
		}
	}
	return nil
}

// BadBuildFlags is the bug compiled into the demo's v3.
const BadBuildFlags = "--latency=250ms"

// SentryBadVersion is the demo's build with a bug only Sentry sees: 30% of its API
// requests hit an error it recovers from (users get right answers) and reports to
// Sentry, so metrics of HTTP status see nothing and `make demo-bad-sentry` rolls it
// back on Sentry's word alone.
const (
	SentryBadVersion    = "v4"
	SentryBadBuildFlags = "--handled-error-rate=0.3"
	// SentrySpec is the demo's release spec judged by Sentry, relative to the root.
	SentrySpec = "examples/demo/board-sentry.yaml"
)

// quiet keeps the SDK's client logs out of the demo's output.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
