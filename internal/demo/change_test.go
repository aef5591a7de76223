package demo_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/workflows"

	_ "modernc.org/sqlite" // the board's store, read as its DBA would
)

// TestChangeEndToEnd does what `make demo-change`, `-bad` and `-late` do, on free
// ports: a night of two services under load succeeds (both fleets on the new versions,
// the contract done) and a night whose front end fails its sanity test rolls back in
// reverse, both services back on their old versions within 10s; nobody notices either.
func openStore(t *testing.T, path string) *sql.DB {
	_, err := os.Stat(path)
	require.NoError(t, err)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestChangeEndToEnd(t *testing.T) {
	d := newDemoTest(t, 11*time.Minute)
	ctx, root, bin, srv := d.ctx, d.root, d.bin, d.srv
	require.NoError(t, demo.BuildChange(ctx, root, bin))

	run := func(t *testing.T, work string, set func(*demo.ChangeOptions)) *demo.ChangeSummary {
		out := &testharness.SyncBuffer{}
		opts := demo.ChangeOptions{
			Options: demo.Options{
				Root: root, BinDir: bin, WorkDir: work,
				Temporal: srv.Address, CloudAPI: freeAddr(t), LB: freeAddr(t),
				Rate: 40, WSClients: 8, Out: out,
			},
			WebCloudAPI: freeAddr(t), WebLB: freeAddr(t), ConfirmAfter: time.Second,
		}
		set(&opts)
		sum, err := demo.RunChange(ctx, opts)
		t.Log("demo output:\n" + out.String())
		require.NoError(t, err)
		for name, l := range sum.Load {
			require.NotNil(t, l, name)
			require.Greater(t, l.Requests, int64(200), name)
			require.Zero(t, l.Failed, "%s failures: %+v %q", name, l.Failures, l.FailureSamples)
			require.Zero(t, l.WebSocket.Dropped, name)
			require.Zero(t, l.WebSocket.Lost, name)
			require.Empty(t, l.WebSocket.VerifyError, name)
		}
		require.Len(t, sum.Load, 2)
		require.Empty(t, sum.Leaked)
		require.Contains(t, out.String(), "nobody noticed")
		return sum
	}

	t.Run("night", func(t *testing.T) {
		work := t.TempDir()
		sum := run(t, work, func(*demo.ChangeOptions) {})
		require.Equal(t, workflows.PhaseSucceeded, sum.Status.Phase, sum.Status.Error)
		require.Equal(t, map[string]int{demo.APINew: 2}, sum.Fleets["board-api"])
		require.Equal(t, map[string]int{demo.WebNew: 2}, sum.Fleets["board-web"])
		expand, ok := sum.Status.Step(demo.StepExpand)
		require.True(t, ok)
		require.Equal(t, "done", expand.Contract)
		landing, _ := sum.Status.Step(demo.StepLanding)
		require.Len(t, landing.Confirmations, 1)

		// v2.4.0 wrote owners beside v2.3.0 during the mix, and the contract made them
		// required: no item is left without one.
		db := openStore(t, filepath.Join(work, "board.db"))
		var owned, unowned int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM items WHERE owner = 'anonymous'`).Scan(&owned))
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM items WHERE owner IS NULL`).Scan(&unowned))
		require.Positive(t, owned, "the new back end wrote items.owner")
		require.Zero(t, unowned)
		_, err := db.Exec(`INSERT INTO items (board, text, seq, version, created_at, updated_at) VALUES ('x', 'old style', 1, 'v2.3.0', 0, 0)`)
		require.ErrorContains(t, err, "items.owner is required", "contracted: the old version's insert is refused")
	})

	t.Run("bad", func(t *testing.T) {
		work := t.TempDir()
		sum := run(t, work, func(o *demo.ChangeOptions) { o.Bad = true })
		st := sum.Status
		require.Equal(t, workflows.PhaseRolledBack, st.Phase, st.Error)
		require.Equal(t, demo.StepWebSanity, st.FailedStep)
		require.Equal(t, map[string]int{demo.APIOld: 2}, sum.Fleets["board-api"])
		require.Equal(t, map[string]int{demo.WebOld: 2}, sum.Fleets["board-web"])
		for _, id := range []string{"web", "api", demo.StepExpand} {
			s, _ := st.Step(id)
			require.Equal(t, workflows.StepRolledBack, s.State, "%s: %s", id, s.Message)
		}
		// In reverse: the front end, then the back end, then the expand.
		require.Len(t, sum.Undone, 3, "%v", sum.Undone)
		require.LessOrEqual(t, sum.Undone["web"], sum.Undone["api"])
		require.LessOrEqual(t, sum.Undone["api"], sum.Undone[demo.StepExpand])
		backup, _ := st.Step("backup")
		require.Equal(t, workflows.StepDone, backup.State, "the backup is left")
		require.False(t, sum.BackOnOld.IsZero(), "both fleets seen back on their old versions")
		require.Less(t, sum.BackWithin, 10*time.Second)

		// The expand was undone; the backup is left, taken before the expand.
		var cols int
		require.NoError(t, openStore(t, filepath.Join(work, "board.db")).QueryRow(`SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'owner'`).Scan(&cols))
		require.Zero(t, cols, "undo-expand dropped items.owner")
		require.NoError(t, openStore(t, filepath.Join(work, "board-backup.db")).QueryRow(`SELECT COUNT(*) FROM items`).Scan(&cols))
	})

	// make demo-change-late: nobody confirms the landing tests, and decideBy rolls both
	// services and the expand back before doneBy, with nothing lost.
	t.Run("late", func(t *testing.T) {
		sum := run(t, t.TempDir(), func(o *demo.ChangeOptions) { o.Late, o.LateDecideBy = true, 40*time.Second })
		st := sum.Status
		require.Equal(t, workflows.PhaseRolledBack, st.Phase, st.Error)
		require.Equal(t, "deadline", st.FailedStep)
		require.Contains(t, st.Reason, "decideBy")
		require.NotNil(t, st.Clock)
		require.True(t, st.Clock.DeadlineReached)
		require.False(t, st.Ended.After(st.Clock.DoneBy), "rolled back by doneBy: ended %s, doneBy %s", st.Ended, st.Clock.DoneBy)
		require.Equal(t, map[string]int{demo.APIOld: 2}, sum.Fleets["board-api"])
		require.Equal(t, map[string]int{demo.WebOld: 2}, sum.Fleets["board-web"])
		require.False(t, sum.BackOnOld.IsZero(), "both fleets seen back on their old versions")
	})
}
