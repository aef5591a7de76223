//go:build unix

package haproxytest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// DemoappPackage is the demo service the servers run.
const DemoappPackage = "github.com/zerodown/zerodown/examples/demoapp"

// BuildDemoapp builds the demo service into dir; call it once, from TestMain.
func BuildDemoapp(dir string) (string, error) {
	bin := filepath.Join(dir, "demoapp")
	out, err := exec.Command("go", "build", "-o", bin, DemoappPackage).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building demoapp: %v\n%s", err, out)
	}
	return bin, nil
}

// Demo is one demo service process: a fixed server.
type Demo struct {
	Addr    string // 127.0.0.1:port
	Version string
	cmd     *exec.Cmd
	done    chan struct{}
	log     string
}

// StartDemo starts the demo service at bin on addr ("" for a free port), sharing the
// SQLite store, and waits until it answers /healthz (healthy or not: that is for
// HAProxy's checks to say). It is stopped at cleanup.
func StartDemo(tb testing.TB, bin, addr, version, store string, args ...string) *Demo {
	tb.Helper()
	if addr == "" {
		port, err := FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	logf, err := os.CreateTemp("", "demoapp-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	d := &Demo{Addr: addr, Version: version, done: make(chan struct{}), log: logf.Name()}
	d.cmd = exec.Command(bin, append([]string{"--version", version, "--addr", addr, "--store", store}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() {
		if err := d.Stop(); err != nil {
			tb.Errorf("demoapp %s: %v", d.Addr, err)
		}
		if tb.Failed() {
			b, _ := os.ReadFile(d.log)
			tb.Logf("demoapp %s %s log:\n%s", version, addr, b)
		}
		_ = os.Remove(d.log)
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return d
		}
		select {
		case <-d.done:
			b, _ := os.ReadFile(d.log)
			tb.Fatalf("demoapp %s exited on start:\n%s", addr, b)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("demoapp %s not healthy within 20s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM (the service finishes its requests and moves its WebSockets) and
// waits for the process to end, killing it after 15s.
func (d *Demo) Stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		_ = d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("did not stop within 15s of SIGTERM; killed")
	}
}
