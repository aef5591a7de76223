// Package benchrecord writes what the programs under bench/ measured into
// BENCHMARKS.md: each run appends one section that names the machine and the date, so
// figures are never compared across machines by mistake. Several benchmarks may append
// at once (one engineer's chaos run, another's scale run); a section is one write of
// its own, never a rewrite of the file.
package benchrecord

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Header starts a BENCHMARKS.md that does not exist yet.
const Header = `# Benchmarks

Tables appended by the programs under bench/, newest last. Each names the machine and the
date it ran on; figures from different machines do not compare. Each section says how to
run it again.
`

// Section is one run of one benchmark.
type Section struct {
	Name    string    // the benchmark, e.g. "chaos"
	Started time.Time // when the run began
	Machine string    // Machine(), taken before the run
	Body    string    // the tables and verdicts, in Markdown
}

// Append adds s at the end of the file at path, creating the file with Header first
// when it is missing. The section goes out in one write under an exclusive lock, so
// two benchmarks finishing together never interleave their lines.
func Append(path string, s Section) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	var b strings.Builder
	if info.Size() == 0 { // created just now, or left empty: the header comes first
		b.WriteString(Header)
	}
	fmt.Fprintf(&b, "\n## %s, %s\n\n%s\n\n%s\n", s.Name, s.Started.UTC().Format("2006-01-02 15:04 MST"),
		s.Machine, strings.TrimRight(s.Body, "\n"))
	_, err = f.WriteString(b.String())
	return err
}

// Machine names what the figures were measured on: cores, CPU model, memory, the load
// others put on it (the machine may be shared), the Go version. No host names, no paths.
func Machine() string {
	model := procField("/proc/cpuinfo", "model name")
	if model == "" {
		model = runtime.GOARCH
	}
	mem := "unknown memory"
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		if _, err := fmt.Sscan(strings.TrimSuffix(kb, " kB"), &n); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
		}
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("Machine: %d CPUs (nproc), %s, %s memory, %s %s/%s; load average before the run %s.",
		runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
