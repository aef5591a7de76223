package workerapp_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

// The worker serves every analysis provider the spec schema allows.
func TestEveryAnalysisProviderIsServed(t *testing.T) {
	acts := activities.New(fleet.Registry{}, workerapp.Analyzers())
	for _, p := range []string{schemas.AnalysisHealth, schemas.AnalysisScrape, schemas.AnalysisPrometheus} {
		require.Contains(t, acts.Analyzers, p)
	}
}
