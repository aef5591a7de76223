package workflows_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Workflow code does no I/O. The compiler cannot say so, but the import graph can: no
// package that talks to Slack, Prometheus, AWS or the local cloud may be linked into the
// workflow package, even indirectly (an activity's dependencies built in activities.New
// once pulled Slack and the Prometheus client in).
func TestWorkflowsImportNoIOLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/zerodown/zerodown/workflows", "go list answered for the wrong package")
	// Libraries, with every package under them.
	forbiddenTrees := []string{
		"github.com/slack-go/slack",
		"github.com/prometheus/client_golang/api",
		"github.com/aws/aws-sdk-go-v2",
		"github.com/zerodown/zerodown/internal/localcloud",
		"github.com/zerodown/zerodown/fleet/local",
		"github.com/zerodown/zerodown/fleet/aws",
		"github.com/zerodown/zerodown/fleet/haproxy",
		"github.com/zerodown/zerodown/notify/slack",
	}
	// Analyzers that do I/O; their pure parts (the scrape query language, which the spec
	// validator parses) may be linked.
	forbiddenPackages := []string{
		"github.com/zerodown/zerodown/analysis/prom",
		"github.com/zerodown/zerodown/analysis/scrape",
	}
	for _, dep := range deps {
		for _, f := range forbiddenTrees {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"),
				"workflows depends on %s (%s): workflow code must not link an I/O library; build it in the worker's assembly and inject it", f, dep)
		}
		require.NotContains(t, forbiddenPackages, dep, "workflows depends on %s: build it in the worker's assembly and inject it", dep)
	}
}
