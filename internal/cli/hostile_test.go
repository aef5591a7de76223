package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The hostile-spec corpus, run the way a user or CI runs it: the real zerodown binary in
// a child process under a hard address-space limit and a watchdog. A spec that makes
// validate or plan hang, or blow up its memory, fails here instead of on a worker.
const (
	// addressSpaceLimit is the hard cap (ulimit -v): a Go binary reserves about 900 MiB
	// of address space just to start, so 2 GiB leaves room for work but not for a bomb.
	addressSpaceLimit = 2 << 30
	// maxResident is the most resident memory one run may reach (ru_maxrss).
	maxResident = 256 << 20
	// runWatchdog kills a run that takes longer; a bounded one ends in a few seconds
	// even on a busy machine.
	runWatchdog = 60 * time.Second
	// exitInvalidSpec is zerodown's exit status for a refused spec.
	exitInvalidSpec = 3
)

type hostileCase struct {
	name   string
	path   string
	expect []string // substrings the refusal must contain; nil: the spec is valid
}

func TestHostileSpecsAreRefusedWithinBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the zerodown binary and runs it once per spec")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the memory cap uses ulimit -v and ru_maxrss as Linux reports them")
	}
	bin := buildZerodown(t)
	cases := committedCorpus(t)
	cases = append(cases, generatedCorpus(t)...)

	// Two runs at a time: the bounds are per process, and the machine is shared.
	sem := make(chan struct{}, 2)
	for _, c := range cases {
		for _, command := range []string{"validate", "plan"} {
			t.Run(c.name+"/"+command, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				r := runCapped(t, bin, command, "-f", c.path)
				t.Logf("%s %s: exit %d in %s, peak resident %d MiB", command, c.name, r.code, r.took.Round(time.Millisecond), r.maxRSS>>20)
				require.False(t, r.killed, "%s %s still running after %s: killed", command, c.name, runWatchdog)
				require.Less(t, r.maxRSS, int64(maxResident), "%s %s peaked at %d MiB resident", command, c.name, r.maxRSS>>20)
				if c.expect == nil {
					require.Equal(t, 0, r.code, "a valid spec: %s", r.stderr)
					return
				}
				require.Equal(t, exitInvalidSpec, r.code, "stdout: %.500s\nstderr: %.500s", r.stdout, r.stderr)
				for _, want := range c.expect {
					require.Contains(t, r.stderr, want)
				}
				// The refusal is words for a person, not an echo of the hostile input.
				require.Less(t, len(r.stderr), 4096, "the refusal is %d bytes long", len(r.stderr))
			})
		}
	}
}

// committedCorpus reads schemas/testdata/hostile: each file's "# expect:" comments say
// what its refusal must contain.
func committedCorpus(t *testing.T) []hostileCase {
	files, err := filepath.Glob(filepath.Join("..", "..", "schemas", "testdata", "hostile", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var cases []hostileCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		c := hostileCase{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), path: f}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if want, ok := strings.CutPrefix(sc.Text(), "# expect: "); ok {
				c.expect = append(c.expect, want)
			}
		}
		require.NotEmpty(t, c.expect, "%s says what its refusal must contain with a # expect: line", f)
		cases = append(cases, c)
	}
	return cases
}

// generatedCorpus writes the specs too big to commit, and the largest valid spec.
func generatedCorpus(t *testing.T) []hostileCase {
	dir := t.TempDir()
	const head = "service: a\nenvironment: b\n"
	write := func(name string, build func(w *bufio.Writer)) string {
		path := filepath.Join(dir, name+".yaml")
		f, err := os.Create(path)
		require.NoError(t, err)
		w := bufio.NewWriterSize(f, 1<<20)
		build(w)
		require.NoError(t, w.Flush())
		require.NoError(t, f.Close())
		return path
	}
	repeat := func(w *bufio.Writer, s string, n int) {
		for range n {
			w.WriteString(s)
		}
	}
	return []hostileCase{
		{name: "50MB-string", expect: []string{"at most 1 MiB"}, path: write("50MB-string", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 4}\nhooks: {preTraffic: [{name: \"")
			repeat(w, "x", 50<<20)
			w.WriteString("\", command: {args: [true]}}]}\n")
		})},
		{name: "1MB-hook-name", expect: []string{"hooks.preTraffic[0].name: must be at most 1024 characters"}, path: write("1MB-hook-name", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 4}\nhooks: {preTraffic: [{name: \"")
			repeat(w, "x", 1000_000)
			w.WriteString("\", command: {args: [true]}}]}\n")
		})},
		{name: "40000-approvers", expect: []string{"canary.approval.approvers: must have at most 100 items"}, path: write("40000-approvers", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 4}\ncanary:\n  approval:\n    required: true\n    approvers:\n")
			for i := range 40_000 {
				fmt.Fprintf(w, "      - person%d\n", i)
			}
		})},
		// A key and its empty value every two bytes: the YAML parser's tree of it alone
		// took 250 MiB, so it is refused before parsing.
		{name: "1MiB-of-keys", expect: []string{"more than 200000 separators"}, path: write("1MiB-of-keys", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 4}\nx: {")
			repeat(w, "a,", 520_000)
			w.WriteString("a}\n")
		})},
		// The densest document the separator count lets through: two values a comma.
		{name: "densest", expect: []string{"more than 50000 values"}, path: write("densest", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 4}\nx: {")
			const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			const alnum = letters + "0123456789"
			for i := range 199_000 { // distinct three-character keys
				w.Write([]byte{letters[i/(62*62)], alnum[i/62%62], alnum[i%62], ','})
			}
			w.WriteString("z}\n")
		})},
		// The largest fleet in batches of one: plan prints every batch, within bounds.
		{name: "largest-valid-plan", path: write("largest-valid-plan", func(w *bufio.Writer) {
			w.WriteString(head + "target: {provider: memory, instances: 10000}\npromote: {batch: 1}\n")
		})},
	}
}

func buildZerodown(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zerodown")
	out, err := exec.Command("go", "build", "-o", bin, "../../starter").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

type cappedRun struct {
	code           int
	killed         bool
	took           time.Duration
	maxRSS         int64 // bytes
	stdout, stderr string
}

// runCapped runs bin under ulimit -v (the shell execs it, so the limit and the rusage
// are zerodown's own) and kills it when the watchdog fires.
func runCapped(t *testing.T, bin string, args ...string) cappedRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runWatchdog)
	defer cancel()
	script := fmt.Sprintf(`ulimit -v %d && exec "$0" "$@"`, addressSpaceLimit>>10)
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, bin}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &limitedBuffer{b: &stdout}, &limitedBuffer{b: &stderr}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := cappedRun{took: time.Since(start), stdout: stdout.String(), stderr: stderr.String(), killed: ctx.Err() != nil}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		require.NoError(t, err)
	}
	r.code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10 // Linux reports KiB
	}
	return r
}

// limitedBuffer keeps the first MiB of a stream: a run that prints without end must not
// take the test's memory with it.
type limitedBuffer struct{ b *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 1<<20 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
