package cli_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// A change's status says when a waiting confirm step's people were reminded, when it
// escalated, and a page that failed.
func TestRenderChangeShowsReminders(t *testing.T) {
	at := time.Date(2026, 1, 2, 5, 40, 0, 0, time.Local)
	st := workflows.ChangeStatus{
		ChangeID: "change/night", Phase: workflows.PhaseRunning, Environment: "prod", StartedBy: "dba",
		Steps: []workflows.StepStatus{
			{ID: "web", Kind: schemas.StepRelease, State: workflows.StepRunning},
			{ID: "landing", Kind: schemas.StepConfirm, State: workflows.StepWaiting, RemindedAt: at},
			{ID: "billing", Kind: schemas.StepConfirm, State: workflows.StepRunning, Required: 1, RemindedAt: at, EscalatedAt: at.Add(30 * time.Minute)},
		},
		PageError: "escalated page change/night/r/billing/escalated: no pager",
	}
	out := cli.RenderChange(st)
	require.Regexp(t, `landing\s+confirm\s+waiting\s+\(reminded 05:40:00\)`, out)
	require.Contains(t, out, "zerodown change confirm night billing (escalated 06:10:00)")
	require.Contains(t, out, "paging failed: escalated page change/night/r/billing/escalated: no pager")
}
