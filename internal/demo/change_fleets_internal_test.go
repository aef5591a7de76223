package demo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBackOnOldIsTheStartOfTheLastStretchOnOld: a fleet seen on its old version for a
// moment, then not, is not back yet; samples before the failure do not count.
func TestBackOnOldIsTheStartOfTheLastStretchOnOld(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(ms int, onOld bool) fleetSample {
		return fleetSample{at: t0.Add(time.Duration(ms) * time.Millisecond), onOld: onOld}
	}
	samples := []fleetSample{at(-200, true), at(0, false), at(100, true), at(200, false), at(300, true), at(400, true)}
	require.Equal(t, t0.Add(300*time.Millisecond), backOnOld(samples, t0))
	require.True(t, backOnOld(samples[:4], t0).IsZero(), "not on old at the end: never back")
	require.True(t, backOnOld(nil, t0).IsZero())
}
