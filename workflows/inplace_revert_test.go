package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// A release whose instances are launched has no server to revert: the update is refused,
// naming the field, and the release goes on untouched. (The in-place path itself runs
// against a real HAProxy: internal/inplaceworld.)
func TestRevertIsRefusedWhenNotInPlace(t *testing.T) {
	h := newHarness(t)
	refused := h.update(workflows.UpdateRevert, workflows.RevertRequest{By: "ops", Server: "web1", Reason: "logs"}, 10*time.Minute)
	st, err := h.run(approvalSpec(schemas.OnTimeoutPromote))
	require.NoError(t, err)
	require.EqualError(t, refused.rejected, "server: this release does not upgrade servers in place (target.haproxy.servers); abort it to roll back")
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Empty(t, st.Servers)
	h.fleetIs("v2", 4)
}
