package workflows_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

func planSpec(instances, canary int, batch string) schemas.Spec {
	return schemas.Spec{
		Target:  schemas.Target{Provider: schemas.ProviderMemory, Instances: instances},
		Canary:  schemas.Canary{Instances: canary},
		Promote: schemas.Promote{Strategy: schemas.StrategyRolling, Batch: batch},
	}
}

// launched adds up the batches, checking that each one follows from the last.
func launched(t *testing.T, p workflows.Plan) int {
	t.Helper()
	total, attached := 0, p.Canary
	for _, b := range p.Batches {
		total += b.Launch
		attached += b.Launch
		require.Equal(t, attached, b.NewAttached)
	}
	return total
}

func TestPlanBatches(t *testing.T) {
	p := workflows.NewPlan(planSpec(10, 1, "4"), 10)
	require.Equal(t, []workflows.Batch{
		{Launch: 4, NewAttached: 5, OldAttached: 5},
		{Launch: 4, NewAttached: 9, OldAttached: 1},
		{Launch: 1, NewAttached: 10, OldAttached: 0},
	}, p.Batches)

	// A percent of the fleet, rounded up; the default when promote.batch is empty is 25%.
	require.Equal(t, 3, workflows.BatchSize(planSpec(10, 1, "25%")))
	require.Equal(t, 3, workflows.BatchSize(planSpec(10, 1, "")))
	require.Equal(t, 1, workflows.BatchSize(planSpec(1, 1, "")))
	require.Equal(t, 2500, workflows.BatchSize(planSpec(schemas.MaxInstances, 1, "")))
}

// The largest valid fleet in batches of one is one batch per instance, no more.
func TestPlanOfTheLargestFleet(t *testing.T) {
	p := workflows.NewPlan(planSpec(schemas.MaxInstances, 1, "1"), schemas.MaxInstances)
	require.Len(t, p.Batches, schemas.MaxInstances-1)
	require.Equal(t, schemas.MaxInstances-1, launched(t, p))
}

// A spec that skipped validation cannot make the plan overflow or take the memory of
// the process: the arithmetic holds for the largest int, and there are never more than
// schemas.MaxInstances batches (they grow instead).
func TestPlanBeyondTheMaxima(t *testing.T) {
	for _, batch := range []string{"1", "100%", "1%", "99999999999999999999", ""} {
		spec := planSpec(math.MaxInt, 1, batch)
		require.Positive(t, workflows.BatchSize(spec), batch)
		p := workflows.NewPlan(spec, 0)
		require.LessOrEqual(t, len(p.Batches), schemas.MaxInstances, batch)
		require.Equal(t, math.MaxInt-1, launched(t, p), "every instance is launched once (batch %q)", batch)
	}
	require.Equal(t, math.MaxInt, workflows.BatchSize(planSpec(math.MaxInt, 1, "100%")))
	require.Equal(t, math.MaxInt/2+1, workflows.BatchSize(planSpec(math.MaxInt, 1, "50%")))
	require.Equal(t, math.MaxInt/4+1, workflows.BatchSize(planSpec(math.MaxInt, 1, "")))

	spec := planSpec(math.MaxInt, 0, "")
	spec.Canary.Percent = math.MaxInt
	require.Equal(t, math.MaxInt, spec.CanaryCount(), "a percent beyond 100 is the whole fleet")
	spec.Canary.Percent = 50
	require.Equal(t, math.MaxInt/2+1, spec.CanaryCount())

	require.Equal(t, []workflows.Batch{{NewAttached: 1}}, workflows.NewPlan(planSpec(-5, 1, "1"), 0).Batches)
}
