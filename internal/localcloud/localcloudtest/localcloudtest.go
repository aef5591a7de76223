//go:build unix

// Package localcloudtest runs a real local cloud daemon in tests, with a fake instance
// program to launch, and makes sure no instance process outlives the test.
package localcloudtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud"
)

// FakeInstancePackage is the test instance program (see its doc for what it serves).
const FakeInstancePackage = "github.com/zerodown/zerodown/internal/localcloud/testdata/fakeinstance"

// BuildFakeInstance builds the fake instance into dir; call it from TestMain.
func BuildFakeInstance(dir string) (string, error) {
	bin := filepath.Join(dir, "fakeinstance")
	out, err := exec.Command("go", "build", "-o", bin, FakeInstancePackage).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building fake instance: %v\n%s", err, out)
	}
	return bin, nil
}

// MainWithFakeInstance is a TestMain body: it builds the fake instance into a temporary
// directory, stores its path in *bin, runs the tests and removes the directory.
func MainWithFakeInstance(m *testing.M, bin *string) int {
	dir, err := os.MkdirTemp("", "fakeinstance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = BuildFakeInstance(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// FakeCommand is the launch command template for the fake instance at bin.
func FakeCommand(bin string) []string {
	return []string{bin, "--port", "{{.Port}}", "--version", "{{.Version}}", "--id", "{{.ID}}"}
}

// Daemon is a daemon started for a test.
type Daemon struct {
	*localcloud.Daemon
	API      string // base URL of the API
	LB       string // base URL of the load balancer
	StateDir string
}

// TestConfig is a fast configuration on ephemeral ports: health checks every 100ms.
func TestConfig(stateDir string) localcloud.Config {
	cfg := localcloud.DefaultConfig()
	cfg.Listen, cfg.LB = "127.0.0.1:0", "127.0.0.1:0"
	cfg.StateDir = stateDir
	cfg.HealthInterval = 100 * time.Millisecond
	cfg.HealthTimeout = time.Second
	cfg.StopGrace = 5 * time.Second
	return cfg
}

// Start runs a daemon. On cleanup it terminates every instance, stops the daemon and
// fails the test if any instance process recorded in the state dir is still alive.
// The daemon's log is printed if the test fails.
func Start(tb testing.TB, cfg localcloud.Config) *Daemon {
	tb.Helper()
	if cfg.Logger == nil {
		var buf lockedBuffer
		cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		tb.Cleanup(func() {
			if tb.Failed() {
				tb.Logf("local cloud log (%s):\n%s", cfg.StateDir, buf.String())
			}
		})
	}
	d, err := localcloud.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("starting local cloud: %v", err)
	}
	tb.Cleanup(func() {
		select {
		case <-d.Done():
		default:
			if err := d.Stop(true); err != nil {
				tb.Errorf("local cloud: %v", err)
			}
		}
		for _, pid := range RecordedPIDs(tb, cfg.StateDir) {
			if !WaitGone(pid, 5*time.Second) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				tb.Errorf("instance process %d outlived the test", pid)
			}
		}
	})
	return &Daemon{Daemon: d, API: "http://" + d.APIAddr(), LB: "http://" + d.LBAddr(), StateDir: cfg.StateDir}
}

// RecordedPIDs lists every instance PID in a state dir's state file.
func RecordedPIDs(tb testing.TB, stateDir string) []int {
	b, err := os.ReadFile(filepath.Join(stateDir, "state.json"))
	if err != nil {
		return nil
	}
	var st struct {
		Instances []struct {
			PID int `json:"pid"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		tb.Errorf("reading state file: %v", err)
	}
	var pids []int
	for _, in := range st.Instances {
		if in.PID > 0 {
			pids = append(pids, in.PID)
		}
	}
	return pids
}

// Gone reports whether no process (not even a zombie) has this PID.
func Gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// WaitGone waits until the process is gone (and reaped).
func WaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !Gone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Do calls the API: it sends in as JSON (if not nil), decodes the answer into out (if
// not nil) and returns the status code.
func (d *Daemon) Do(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.API+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d %s: %w", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

// lockedBuffer is a log sink shared by the daemon's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
