package demo_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/schemas"
)

// TestDemoChangeFileHasWhatTheDemoActsOn keeps examples/demo/change/night.yaml valid and
// holding the steps and versions the demo confirms, measures and builds, without servers.
func TestDemoChangeFileHasWhatTheDemoActsOn(t *testing.T) {
	c, err := schemas.LoadChange(filepath.Join("..", "..", "examples", "demo", "change", "night.yaml"))
	require.NoError(t, err)
	kinds := map[string]string{}
	versions := map[string]string{}
	for _, s := range c.Steps {
		kinds[s.ID] = s.Kind()
		if s.Release != nil {
			versions[s.Release.Spec.Service] = s.Release.Version
		}
	}
	require.Equal(t, "confirm", kinds[demo.StepLanding])
	require.Equal(t, "check", kinds[demo.StepWebSanity])
	require.Equal(t, "migration", kinds[demo.StepExpand])
	require.Equal(t, map[string]string{"board-api": demo.APINew, "board-web": demo.WebNew}, versions)
}
