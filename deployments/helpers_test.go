package deployments_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
)

// tool finds an external checker (systemd-analyze, promtool). Missing, it skips the test
// on a developer's machine but fails it in CI (CI=true), where it must be installed.
func tool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " is not installed (Debian package " + debianPackage + "): cannot check the files it reads"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a command with a watchdog and returns its combined output and exit error.
func run(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// repoRoot is the module root, from this file's package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// runCLI runs a zerodown command line in this process, through the entry point of the
// binary it names (zerodown or zerodown-worker, any directory), with --help added: the
// flags are parsed exactly as the binary would, and nothing is started.
func runCLI(program string, args []string) (string, int) {
	var out bytes.Buffer
	args = append(append([]string{}, args...), "--help")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := -1
	switch filepath.Base(program) {
	case "zerodown-worker":
		code = cli.WorkerMain(ctx, args, &out, &out)
	case "zerodown":
		code = cli.Main(ctx, args, &out, &out)
	default:
		out.WriteString("not a zerodown binary: " + program)
	}
	return out.String(), code
}

// goBinary is the go command: the one `go test` put first on PATH, else $GOROOT/bin/go.
func goBinary() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// imageTag is the image name `make image` writes (the Makefile's IMAGE_TAG), which every
// manifest must run.
func imageTag(t *testing.T) string {
	t.Helper()
	makefile, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^IMAGE_TAG \?= (\S+)`).FindStringSubmatch(string(makefile))
	require.NotNil(t, m, "the Makefile sets no IMAGE_TAG")
	return m[1]
}
