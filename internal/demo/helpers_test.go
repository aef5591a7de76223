package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
)

// builds are the demo's binaries, built once for every test of the package (a build of
// zerodown, its worker and five demo service versions takes a minute on a busy machine).
var builds struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// demoTest is what an end-to-end demo test starts from: the repository, the builds, a
// Temporal dev server and a deadline for the whole test.
type demoTest struct {
	root, bin string
	srv       *testharness.Server
	ctx       context.Context
}

// newDemoTest skips under -short, builds the demo (once) and starts a dev server.
func newDemoTest(t *testing.T, timeout time.Duration) *demoTest {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the dev server, the local cloud or HAProxy, and the demo service")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return &demoTest{root: root, bin: demoBuilds(ctx, t, root), srv: testharness.StartServer(t), ctx: ctx}
}

// demoBuilds is the directory of the demo's builds, made by the first test that asks.
func demoBuilds(ctx context.Context, t *testing.T, root string) string {
	t.Helper()
	builds.once.Do(func() {
		if builds.dir, builds.err = os.MkdirTemp("", "zerodown-demo-bin-"); builds.err == nil {
			builds.err = demo.Build(ctx, root, builds.dir)
		}
	})
	require.NoError(t, builds.err)
	return builds.dir
}

// options are the demo's options on free ports, this test's server and out, with a
// quick auto-approval and a modest load; the test sets what it is about.
func (d *demoTest) options(t *testing.T, out *testharness.SyncBuffer) demo.Options {
	return demo.Options{
		Root: d.root, BinDir: d.bin, WorkDir: t.TempDir(),
		Temporal: d.srv.Address, CloudAPI: freeAddr(t), LB: freeAddr(t),
		Releases: []string{"v2", "v3"}, ApproveAfter: time.Second,
		Rate: 40, WSClients: 4, Out: out,
	}
}
