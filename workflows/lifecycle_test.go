package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// heldFleet is the memory fleet with a lifecycle, like an Auto Scaling group: it records
// when it was held and how it was restored.
type heldFleet struct {
	*memory.Fleet
	mu       sync.Mutex
	prepared []string
	finished []fleet.FinishRequest
}

func (h *heldFleet) Prepare(_ context.Context, release string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.prepared = append(h.prepared, release)
	return nil
}

func (h *heldFleet) Finish(_ context.Context, req fleet.FinishRequest) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.finished = append(h.finished, req)
	return nil
}

func lifecycleHarness(t *testing.T) (*harness, *heldFleet) {
	h := newHarness(t)
	held := &heldFleet{Fleet: h.fleet}
	h.env = newEnv()
	h.env.RegisterWorkflow(workflows.ReleaseWorkflow)
	h.env.RegisterActivity(activities.New(fleet.Registry{schemas.ProviderMemory: func(schemas.Target) (fleet.Fleet, error) { return held, nil }}, nil))
	return h, held
}

func TestTheFleetIsHeldAndRestoredOnSuccess(t *testing.T) {
	h, held := lifecycleHarness(t)
	_, err := h.runSpec(spec())
	require.NoError(t, err)
	require.Len(t, held.prepared, 1)
	require.Len(t, held.finished, 1)
	require.True(t, held.finished[0].Succeeded)
	require.Equal(t, "v2", held.finished[0].Version)
	require.Equal(t, held.prepared[0], held.finished[0].Release)
}

func TestTheFleetIsRestoredAfterARollback(t *testing.T) {
	h, held := lifecycleHarness(t)
	h.update(workflows.UpdateAbort, workflows.AbortRequest{By: "alice"}, 20*time.Minute)
	_, err := h.runSpec(spec())
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	require.Len(t, held.finished, 1)
	require.False(t, held.finished[0].Succeeded, "the old version stays")
	h.fleetIs("v1", 4)
}
