package benchrecord_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/benchrecord"
)

func TestAppendCreatesThenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	require.NoError(t, benchrecord.Append(path, benchrecord.Section{Name: "chaos", Started: at, Machine: "Machine: m.", Body: "| a |\n"}))
	require.NoError(t, benchrecord.Append(path, benchrecord.Section{Name: "scale", Started: at, Machine: "Machine: m.", Body: "| b |"}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	require.True(t, strings.HasPrefix(s, benchrecord.Header))
	require.Equal(t, 1, strings.Count(s, "# Benchmarks"), "the header is written once")
	require.Contains(t, s, "\n## chaos, 2026-11-23 12:00 UTC\n\nMachine: m.\n\n| a |\n")
	require.Less(t, strings.Index(s, "## chaos"), strings.Index(s, "## scale"))
}

// Benchmarks finishing at the same moment must not interleave or lose each other's lines.
func TestConcurrentAppendsKeepEverySection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	body := strings.Repeat("| row | row | row |\n", 200)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			require.NoError(t, benchrecord.Append(path, benchrecord.Section{Name: string(rune('a' + i)), Started: time.Now(), Body: body}))
		})
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	require.Equal(t, 1, strings.Count(s, "# Benchmarks"))
	require.Equal(t, 8*200, strings.Count(s, "| row | row | row |\n"))
	for _, part := range strings.Split(s, "\n## ")[1:] {
		require.Equal(t, 200, strings.Count(part, "| row | row | row |\n"), "a section is contiguous")
	}
}

func TestMachineNamesCoresAndMemory(t *testing.T) {
	m := benchrecord.Machine()
	require.Contains(t, m, "CPUs (nproc)")
	require.Contains(t, m, "memory")
	require.NotContains(t, m, "/proc", "no paths")
}
