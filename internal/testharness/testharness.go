// Package testharness starts what integration tests need for real: a Temporal dev server
// (the pinned Temporal CLI binary, never a mock) and the zerodown worker in-process.
package testharness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/workflows"
)

// TemporalCLIVersion is the pinned Temporal CLI; InstallHint installs it.
const (
	TemporalCLIVersion = "v1.5.1"
	InstallHint        = "go install github.com/temporalio/cli/cmd/temporal@" + TemporalCLIVersion
	// TemporalCLIEnv names a Temporal CLI binary to use instead of searching for one.
	TemporalCLIEnv = "TEMPORAL_CLI"
)

// startTimeout bounds the dev server's start, generous for a loaded 2-core CI machine.
const startTimeout = 2 * time.Minute

// SearchAttributes are zerodown's search attributes, all Keyword, as the dev server
// registers them and as a production namespace must.
var SearchAttributes = workflows.SearchAttributes

// TemporalCLI finds the Temporal CLI: $TEMPORAL_CLI, then PATH, then $(go env GOPATH)/bin.
func TemporalCLI() (string, error) {
	if p := os.Getenv(TemporalCLIEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$%s=%s: %w", TemporalCLIEnv, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	for _, dir := range goPaths() {
		p := filepath.Join(dir, "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the Temporal CLI was not found ($%s, PATH, $(go env GOPATH)/bin); install it with: %s", TemporalCLIEnv, InstallHint)
}

// goPaths lists GOPATH entries: what `go env GOPATH` says (it sees `go env -w`), else
// what go/build computes from the environment.
func goPaths() []string {
	gopath := build.Default.GOPATH
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		gopath = string(bytes.TrimSpace(out))
	}
	return filepath.SplitList(gopath)
}

// Server is a running dev server.
type Server struct {
	Client    client.Client
	Address   string // host:port of the frontend, for --address
	Namespace string
}

// StartDevServer starts a Temporal dev server for the test and returns a client of it.
func StartDevServer(t testing.TB) client.Client {
	t.Helper()
	return StartServer(t).Client
}

// StartServer starts a Temporal dev server on 127.0.0.1 and a free port, headless, with
// an in-memory store and zerodown's search attributes; it stops when the test ends.
// A missing Temporal CLI fails the test: integration tests are not optional. Only
// `go test -short` (make test-short: no servers) skips them.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, true)
}

// StartBareServer starts a dev server as StartServer does but without zerodown's search
// attributes, as a fresh production namespace is: for `zerodown setup`.
func StartBareServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

func startServer(t testing.TB, searchAttributes bool) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal dev server; runs without -short")
	}
	exe, err := TemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	// The server's output is kept and shown only if the test fails.
	out := &SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	opts := DevServerOptions(exe, out)
	if !searchAttributes {
		opts.ExtraArgs = nil
	}
	srv, err := testsuite.StartDevServer(ctx, opts)
	if err != nil {
		t.Fatalf("start the Temporal dev server (%s): %v\n%s", exe, err, out.String())
	}
	t.Cleanup(func() {
		srv.Client().Close()
		if err := srv.Stop(); err != nil && !isInterruptExit(err) {
			t.Logf("stop the Temporal dev server: %v", err)
		}
		if t.Failed() {
			t.Logf("Temporal dev server output:\n%s", out.String())
		}
	})
	return &Server{Client: srv.Client(), Address: srv.FrontendHostPort(), Namespace: client.DefaultNamespace}
}

// DevServerOptions start the dev server at exe as StartServer does: headless, in-memory,
// on 127.0.0.1 and a free port, with zerodown's search attributes, its output to out. A
// program that needs a server without a test (bench/scale) starts it with these.
func DevServerOptions(exe string, out io.Writer) testsuite.DevServerOptions {
	var extra []string
	for _, sa := range SearchAttributes {
		extra = append(extra, "--search-attribute", sa+"=Keyword")
	}
	return testsuite.DevServerOptions{
		ExistingPath: exe,
		ClientOptions: &client.Options{
			Namespace: client.DefaultNamespace,
			Logger:    quietLogger(),
		},
		LogLevel:  "error",
		LogFormat: "pretty",
		ExtraArgs: extra,
		Stdout:    out,
		Stderr:    out,
	}
}

// isInterruptExit accepts the exit status of a server stopped by our interrupt.
func isInterruptExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && strings.Contains(ee.Error(), "interrupt")
}

// StartWorker runs the zerodown worker in-process on c, serving fleets, until the test
// ends. It returns once the worker polls.
func StartWorker(t testing.TB, c client.Client, fleets fleet.Registry) workerapp.Ready {
	t.Helper()
	return StartWorkerWith(t, c, workerapp.Options{Fleets: fleets})
}

// StartWorkerWith runs workerapp.Run with opts (Client set to c) until the test ends, and
// waits for it to poll. The worker's stop is checked: it must return nil.
func StartWorkerWith(t testing.TB, c client.Client, opts workerapp.Options) workerapp.Ready {
	t.Helper()
	ready, _ := StartStoppableWorker(t, c, opts)
	return ready
}

// StartStoppableWorker is StartWorkerWith with a stop function, for tests in which a
// worker goes away mid-release and another takes over; stop waits for it to end.
func StartStoppableWorker(t testing.TB, c client.Client, opts workerapp.Options) (workerapp.Ready, func()) {
	t.Helper()
	opts.Client = c
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 5 * time.Second
	}
	ready := make(chan workerapp.Ready, 1)
	opts.OnReady = func(r workerapp.Ready) { ready <- r }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- workerapp.Run(ctx, opts) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker stopped with: %v", err)
				}
			case <-time.After(opts.StopTimeout + 30*time.Second):
				t.Errorf("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case r := <-ready:
		return r, stop
	case err := <-done:
		t.Fatalf("worker failed to start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("worker did not start within a minute")
	}
	return workerapp.Ready{}, stop
}

// quietLogger keeps the SDK's info chatter out of test output; warnings still show.
func quietLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// SyncBuffer is a bytes.Buffer that several goroutines may write while a test reads it:
// a server's two output streams, or a command running in the background.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
