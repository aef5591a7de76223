package workflows

// The rollback of an in-place release: the previous version goes back on the servers
// already touched, in reverse order, one at a time, with the same per-server steps, so
// that capacity never drops by more than one server.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func (r *release) rollbackInPlace(ctx workflow.Context, reason string) error {
	r.setPhase(ctx, PhaseRollingBack)
	r.st.Status.PendingApproval = nil
	r.event(ctx, timeline.KindRollback, "", reason)
	prev := r.st.Status.PreviousVersion
	if prev == "" && len(r.st.Touched) > 0 {
		return fmt.Errorf("no previous version is known (the servers did not tell theirs when the release began): put it back on %s by hand", strings.Join(r.st.Touched, ", "))
	}
	for i := len(r.st.Touched) - 1; i >= 0; i-- {
		name := r.st.Touched[i]
		if slices.Contains(r.st.Reverted, name) || r.reverting == name {
			continue // an operator's revert took (or is taking) it back
		}
		if err := r.moveServers(ctx, []string{name}, prev, false); err != nil {
			return fmt.Errorf("rolling back %s to %s: %s", name, prev, errText(err))
		}
	}
	if err := r.clearWeights(ctx); err != nil {
		return err
	}
	_, err := r.describe(ctx)
	return err
}

// errText is an error's own words: an activity's message without Temporal's wrapping.
func errText(err error) string {
	var rb *rollbackError
	if errors.As(err, &rb) {
		return rb.reason
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}
