package deployments_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The units name the binaries where an install puts them.
var installedBinary = regexp.MustCompile(`/usr/local/bin/zerodown(?:-worker)?\b`)

// systemdUnits copies the units and their drop-ins into a temporary directory and returns
// the copied units' paths. systemd-analyze verify checks that ExecStart's program exists
// and is executable, nothing more: the copies point it at this test binary, which saves
// building both binaries (20 s on a busy machine). TestSystemdExecStartFlagsExist checks
// the command lines against the real CLI.
func systemdUnits(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	src := filepath.Join("systemd")
	dst := t.TempDir()
	var units []string
	err = filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if strings.HasSuffix(path, ".service") {
			units = append(units, out)
		}
		return os.WriteFile(out, installedBinary.ReplaceAll(text, []byte(self)), 0o644)
	})
	require.NoError(t, err)
	require.Len(t, units, 2, "a unit for the worker and one for the Slack bridge")
	return units
}

// systemd-analyze verify exits 0 on an unknown key or a bad value and only prints it, so
// the test requires it to say nothing at all. The drop-ins beside each unit are read too.
func TestSystemdUnitsVerifySilently(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	for _, unit := range systemdUnits(t) {
		out, err := run(t, filepath.Dir(unit), analyze, "verify", unit)
		require.NoError(t, err, "systemd-analyze verify %s:\n%s", filepath.Base(unit), out)
		require.Empty(t, strings.TrimSpace(out), "systemd-analyze verify %s must print nothing", filepath.Base(unit))
	}
}

// The hardening is measured, not claimed: systemd's own exposure score must stay "OK"
// (at most 2.0 of 10; --threshold counts in tenths).
func TestSystemdUnitsAreHardened(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	for _, unit := range systemdUnits(t) {
		out, err := run(t, filepath.Dir(unit), analyze, "security", "--offline=true", "--threshold=20", unit)
		require.NoError(t, err, "exposure of %s above 2.0:\n%s", filepath.Base(unit), out)
		text, err := os.ReadFile(unit)
		require.NoError(t, err)
		for _, want := range []string{"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "Restart=on-failure", "TimeoutStopSec=45s"} {
			require.Contains(t, string(text), want, filepath.Base(unit))
		}
	}
}

// Every flag on an ExecStart line exists: the command line, with --help added, goes
// through the same entry points as the binaries (an unknown flag is exit 2). %d, the
// credentials directory, stands for a path.
func TestSystemdExecStartFlagsExist(t *testing.T) {
	units, err := filepath.Glob(filepath.Join("systemd", "*.service"))
	require.NoError(t, err)
	require.Len(t, units, 2)
	for _, unit := range units {
		text, err := os.ReadFile(unit)
		require.NoError(t, err)
		m := regexp.MustCompile(`(?m)^ExecStart=(.+)$`).FindStringSubmatch(string(text))
		require.NotNil(t, m, "%s has no ExecStart", unit)
		argv := strings.Fields(strings.ReplaceAll(m[1], "%d", "/run/credentials/unit"))
		out, code := runCLI(argv[0], argv[1:])
		require.Equal(t, 0, code, "%s: %s\n%s", unit, m[1], out)
	}
}
