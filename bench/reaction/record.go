package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// benchmarksHeader starts a BENCHMARKS.md that does not exist yet.
const benchmarksHeader = `# Benchmarks

Tables appended by the programs under bench/, newest last. Each names the machine and the
date it ran on; figures from different machines do not compare.
`

// appendSection appends one run's table to path, creating the file when missing. One
// write under an exclusive lock: other benchmarks may append at the same time.
func appendSection(path string, started time.Time, machine, table string) error {
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
	if info.Size() == 0 {
		b.WriteString(benchmarksHeader)
	}
	fmt.Fprintf(&b, "\n## Canary analysis reaction time, %s\n\n%s\n\n%s\n", started.UTC().Format("2006-01-02 15:04 MST"), machine, strings.TrimRight(table, "\n"))
	_, err = f.WriteString(b.String())
	return err
}

// machineLine names the machine without host names or paths: cores, CPU, memory, Go,
// and the load others put on it before the run (the machine may be shared).
func machineLine() string {
	model := procField("/proc/cpuinfo", "model name")
	if model == "" {
		model = runtime.GOARCH
	}
	mem := "unknown"
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
	return fmt.Sprintf("Machine: %d CPUs, %s, %s memory, %s %s/%s; load average before the run %s.",
		runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
