package schemas_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

// The step of a check: the spec's, else a tenth of the interval between 1s and 1m.
func TestStepOrDefault(t *testing.T) {
	d := func(s string) schemas.Duration {
		v, err := time.ParseDuration(s)
		require.NoError(t, err)
		return schemas.Duration(v)
	}
	for _, tc := range []struct{ interval, step, want string }{
		{"1m", "", "6s"},
		{"4s", "", "1s"},
		{"500ms", "", "500ms"}, // never longer than the interval
		{"1h", "", "1m"},
		{"1m", "15s", "15s"},
	} {
		a := schemas.Analysis{Interval: d(tc.interval)}
		if tc.step != "" {
			a.Step = d(tc.step)
		}
		require.Equal(t, d(tc.want).D(), a.StepOrDefault(), "interval %s step %q", tc.interval, tc.step)
	}
}
