package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/examples/demoapp/board"
)

var binary string

// TestMain builds demoapp once so the tests can run it as the real process a release
// starts and stops.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demoapp-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "demoapp")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building demoapp: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd    *exec.Cmd
	url    string
	exited chan error
	logs   *strings.Builder
}

var listening = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// start runs demoapp on a free port and waits until it listens.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, exited: make(chan error, 1), logs: &strings.Builder{}}
	addr := make(chan string, 1)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.WriteString(line + "\n")
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	go func() {
		<-logsDone // Wait must not run before the pipe is drained
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("demoapp exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("demoapp did not listen\n%s", p.logs.String())
	}
	return p
}

func TestSIGTERMFinishesInFlightRequestAndMovesWebSockets(t *testing.T) {
	store := filepath.Join(t.TempDir(), "board.db")
	p := start(t, "--version", "v1", "--store", store, "--latency", "700ms", "--drain-delay", "200ms")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws?board=b&since=0", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	var hello board.Message
	require.NoError(t, wsjson.Read(ctx, ws, &hello))
	require.Equal(t, "hello", hello.Type)

	type answer struct {
		code    int
		version string
		err     error
	}
	slow := make(chan answer, 1)
	go func() {
		resp, err := http.Post(p.url+"/api/boards/b/items", "application/json", strings.NewReader(`{"text":"in flight"}`))
		if err != nil {
			slow <- answer{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- answer{code: resp.StatusCode, version: resp.Header.Get(board.VersionHeader)}
	}()
	time.Sleep(150 * time.Millisecond) // let the request get in
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))

	// During the drain delay the instance still answers, but unhealthy.
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, time.Second, 20*time.Millisecond)

	var m board.Message
	require.NoError(t, wsjson.Read(ctx, ws, &m))
	require.Equal(t, "reconnect", m.Type, "the in-flight write has not reached the store yet")
	require.Equal(t, int64(0), m.Seq)
	_, _, err = ws.Read(ctx)
	require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))

	a := <-slow
	require.NoError(t, a.err)
	require.Equal(t, http.StatusCreated, a.code, "the in-flight request completes")
	require.Equal(t, "v1", a.version)

	select {
	case err := <-p.exited:
		p.exited <- err
		require.NoError(t, err, "clean exit\n%s", p.logs.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("demoapp did not exit\n%s", p.logs.String())
	}
	require.Contains(t, p.logs.String(), "shut down")
}

// A service that knows nothing of migration just closes its WebSockets on SIGTERM:
// benchmarks compare release procedures with it, without the service's own help.
func TestSIGTERMWithoutMigrationClosesWebSockets(t *testing.T) {
	p := start(t, "--version", "v1", "--store", filepath.Join(t.TempDir(), "board.db"), "--migrate-on-sigterm=false")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/ws?board=b&since=0", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	var hello board.Message
	require.NoError(t, wsjson.Read(ctx, ws, &hello))

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	var m board.Message
	err = wsjson.Read(ctx, ws, &m)
	require.Error(t, err, "no reconnect message, got %+v", m)
	require.NotEqual(t, websocket.StatusNormalClosure, websocket.CloseStatus(err))
	select {
	case err := <-p.exited:
		p.exited <- err
		require.NoError(t, err, "clean exit\n%s", p.logs.String())
	case <-time.After(5 * time.Second):
		t.Fatalf("demoapp did not exit\n%s", p.logs.String())
	}
}

func TestCrashOnStart(t *testing.T) {
	cmd := exec.Command(binary, "--version", "bad", "--crash-on-start", "--store", filepath.Join(t.TempDir(), "x.db"))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.Contains(t, string(out), "crash-on-start")
}

func TestVersionIsRequired(t *testing.T) {
	out, err := exec.Command(binary).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "--version is required")
}
