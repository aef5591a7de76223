//go:build unix

package haproxy_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/zerodown/zerodown/fleet/haproxy/haproxytest"
)

// demoBin is the demo service the servers run, built once by TestMain (not under
// -short, where every test that needs it skips).
var demoBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "haproxy-fleet-")
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
