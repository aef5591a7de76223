//go:build unix

package inplaceworld_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
)

// demoBin is the demo service the servers run, built once (not under -short, where
// every test skips).
var demoBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "inplaceworld-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if demoBin, err = haproxytest.BuildDemoapp(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
