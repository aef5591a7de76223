package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// FromRepo prepares a program run from the repository root, as `make demo` and the
// benchmarks are: it finds the Temporal CLI and, unless noBuild, builds the binaries into
// bin/. The Options it returns carry Root, BinDir and TemporalCLI.
func FromRepo(ctx context.Context, noBuild bool, out io.Writer) (Options, error) {
	root, err := os.Getwd()
	if err != nil {
		return Options{}, err
	}
	temporal, err := TemporalCLI()
	if err != nil {
		return Options{}, err
	}
	opts := Options{Root: root, BinDir: filepath.Join(root, "bin"), TemporalCLI: temporal}
	if !noBuild {
		fmt.Fprintln(out, "building zerodown, its worker and the demo service (v1, v2, and v3 and v4 with bugs)...")
		if err := Build(ctx, root, opts.BinDir); err != nil {
			return Options{}, err
		}
	}
	return opts, nil
}

// FreeAddr returns a loopback address nobody listens on right now, for a world that must
// not collide with other demos, tests and benchmarks running on the same machine.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// FreePort is FreeAddr's port.
func FreePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
