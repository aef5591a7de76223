package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/schemas"
)

// Two releases served by one worker must not see each other's instances: each plans
// with what its own fleet serves.
func TestFleetsKeepTargetsApart(t *testing.T) {
	ctx := context.Background()
	s := memory.NewFleets()
	s.Fleet("a").Seed("v1", 2)
	reg := fleet.Registry{schemas.ProviderMemory: s.Factory}

	fa, err := reg.For(memory.InFleet(target(2), "a"))
	require.NoError(t, err)
	fb, err := reg.For(memory.InFleet(target(3), "b"))
	require.NoError(t, err)

	_, err = fb.Launch(ctx, fleet.LaunchRequest{Key: "release/b/canary", Version: "v2", Count: 3})
	require.NoError(t, err)
	sa, err := fa.Describe(ctx)
	require.NoError(t, err)
	sb, err := fb.Describe(ctx)
	require.NoError(t, err)
	require.Len(t, sa.Instances, 2)
	require.Len(t, sb.Instances, 3)
	require.Equal(t, "v2", sb.Instances[0].Version)

	again, err := reg.For(memory.InFleet(target(3), "b"))
	require.NoError(t, err)
	require.Same(t, fb, again, "the same name is the same fleet")
	require.Equal(t, []string{"a", "b"}, s.Names())
	require.Equal(t, 3, fb.(*memory.Fleet).Launches())
}

func TestTargetWithoutNameUsesTheUnnamedFleet(t *testing.T) {
	s := memory.NewFleets()
	f, err := s.Factory(schemas.Target{Provider: schemas.ProviderMemory, Instances: 1})
	require.NoError(t, err)
	require.Same(t, s.Fleet(""), f)
	require.Equal(t, "", memory.NameOf(schemas.Target{}))
	require.Equal(t, "x", memory.NameOf(memory.InFleet(target(1), "x")))
}

// A named target is still a valid spec's target (the release validates its input).
func TestInFleetKeepsTheRestOfTheTarget(t *testing.T) {
	orig := target(2)
	orig.HealthTimeout = schemas.Duration(time.Minute)
	named := memory.InFleet(orig, "x")
	require.Equal(t, schemas.Duration(time.Minute), named.HealthTimeout)
	require.Equal(t, &schemas.MemorySpec{Fleet: "x"}, named.Memory)
	require.Nil(t, orig.Memory, "the original is not changed")
	require.Nil(t, named.Local, "a memory target needs no local settings")
}

func target(n int) schemas.Target {
	return schemas.Target{Provider: schemas.ProviderMemory, Instances: n}
}
