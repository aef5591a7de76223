package cli_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
)

// result is what one zerodown invocation did.
type result struct {
	code   int
	stdout string
	stderr string
}

// zerodown runs the CLI in-process, as the binary would, with fast polling.
func zerodown(t testing.TB, fleets fleet.Registry, argv ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	app := &cli.App{Stdout: &out, Stderr: &errOut, Fleets: fleets, PollInterval: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := app.Run(ctx, argv)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	t.Logf("zerodown %v -> %d\nstdout:\n%sstderr:\n%s", argv, r.code, r.stdout, r.stderr)
	return r
}

// zerodownAsync runs the CLI in the background (start --wait) and delivers its result.
func zerodownAsync(t testing.TB, argv ...string) <-chan result {
	t.Helper()
	ch := make(chan result, 1)
	go func() { ch <- zerodown(t, nil, argv...) }()
	return ch
}

// syncBuffer lets a test read what a command running in the background has written.
type syncBuffer = testharness.SyncBuffer

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
