package board_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/examples/demoapp/board"
)

// openStoreEnv makes the test binary a child that opens one store and exits, so the
// race below runs between processes, as instances started by the local cloud do.
const openStoreEnv = "BOARD_TEST_OPEN_STORE"

// Two instances started at once on a fresh file both open it; neither may fail. Before
// OpenStore retried a busy open, about 1 round in 17 lost one of them to SQLITE_BUSY
// (seen in CI as a canary that "exited before becoming healthy").
func TestInstancesStartingTogetherOnAFreshFile(t *testing.T) {
	if path := os.Getenv(openStoreEnv); path != "" {
		s, err := board.OpenStore(path)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		return
	}
	if testing.Short() {
		t.Skip("starts 200 processes")
	}
	const rounds, together = 100, 2
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "board.db")
		var wg sync.WaitGroup
		outs := make([][]byte, together)
		errs := make([]error, together)
		for i := range together {
			wg.Go(func() {
				cmd := exec.Command(os.Args[0], "-test.run", "^TestInstancesStartingTogetherOnAFreshFile$")
				cmd.Env = append(os.Environ(), openStoreEnv+"="+path)
				outs[i], errs[i] = cmd.CombinedOutput()
			})
		}
		wg.Wait()
		for i := range together {
			require.NoError(t, errs[i], "round %d, process %d:\n%s", round, i, outs[i])
		}
	}
}
