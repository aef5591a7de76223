package deployments_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/examples/demoapp/board"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// Metrics that appear only after a failure the test cannot cheaply cause: each is the
// Temporal SDK metric (its constant named here, and checked in the SDK's source) plus
// the _total suffix that the worker's Prometheus reporter gives every counter.
var eventOnlyMetrics = map[string]string{
	"temporal_workflow_task_execution_failed_total": "temporal_workflow_task_execution_failed", // a workflow task panics or is non-deterministic
	"temporal_request_failure_total":                "temporal_request_failure",                // a call to the Temporal server fails
}

// prometheusBuiltins are series Prometheus itself writes for every target.
var prometheusBuiltins = []string{"up"}

// Every metric that the dashboard and the alert rules select is one that a real zerodown
// worker or the demo service exports: the test runs a worker against a Temporal dev
// server through a release that succeeds, one whose canary never gets healthy and one
// whose canary fails its checks while it soaks, then scrapes it; and it scrapes a demo
// service that has served requests.
func TestQueriesNameExportedMetrics(t *testing.T) {
	exported := map[string]bool{}
	for _, n := range scrapeWorkerAfterReleases(t) {
		exported[n] = true
	}
	for _, n := range scrapeDemoapp(t) {
		exported[n] = true
	}
	for _, n := range prometheusBuiltins {
		exported[n] = true
	}
	sdk := sdkMetricNames(t)
	for name, base := range eventOnlyMetrics {
		require.True(t, sdk[base], "%s: the Temporal SDK has no metric %s", name, base)
		require.Equal(t, base+"_total", name)
		exported[name] = true
	}

	used := map[string][]string{}
	for title, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			for _, n := range metricNames(e) {
				used[n] = append(used[n], "dashboard panel "+title)
			}
		}
	}
	for alert, expr := range alertExprs(t) {
		for _, n := range metricNames(expr) {
			used[n] = append(used[n], "alert "+alert)
		}
	}
	require.GreaterOrEqual(t, len(used), 10)
	var missing []string
	for n, where := range used {
		if !exported[n] {
			missing = append(missing, n+" (in "+strings.Join(slices.Compact(where), ", ")+")")
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "metrics that neither zerodown nor the demo service export")
}

func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join("prometheus", "alerts.yaml"), &rules)
	out := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

const metricsSpec = `
service: board
environment: prod
target: { provider: memory, instances: 2 }
bake: { method: none }
canary:
  instances: 1
  soak: 3s
  analysis: { interval: 1s, provider: health, failureLimit: 1 }
promote: { strategy: rolling, batch: 50%, maxUnavailable: 0 }
drain: { timeout: 5s }
rollback: { automatic: true }
`

// scrapeWorkerAfterReleases returns the metric names on a real worker's /metrics once it
// has run a release to success and two to a rollback.
func scrapeWorkerAfterReleases(t *testing.T) []string {
	t.Helper()
	c := testharness.StartDevServer(t) // skips under -short
	f := memory.New()
	f.Seed("v1", 2)
	ready := testharness.StartWorkerWith(t, c, workerapp.Options{
		Fleets: fleet.Registry{schemas.ProviderMemory: f.Factory}, MetricsAddress: "127.0.0.1:0",
		// The failing activities below are on purpose: keep their error logs out.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	spec, err := schemas.Parse([]byte(metricsSpec))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	release := func(version string) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(ctx, cli.StartOptions(spec, version), workflows.ReleaseWorkflowName,
			workflows.ReleaseInput{Spec: *spec, Version: version, StartedBy: "deployments-test"})
		require.NoError(t, err)
		return run
	}

	require.NoError(t, release("v2").Get(ctx, nil)) // succeeds
	f.SetUnhealthy("v3", true)                      // its canary never gets healthy: WaitHealthy fails
	require.Error(t, release("v3").Get(ctx, nil))
	run := release("v4") // healthy at first, then it fails its checks while it soaks
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, spec.ID(), "", workflows.QueryStatus)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Phase == workflows.PhaseSoaking
	}, time.Minute, 50*time.Millisecond)
	f.SetUnhealthy("v4", true)
	require.Error(t, run.Get(ctx, nil))

	var names []string
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		names = scrapeNames(t, "http://"+ready.MetricsAddress+workerapp.MetricsPath)
		for _, want := range []string{"zerodown_releases_total", "zerodown_rollbacks_total", "zerodown_checks_failed_total", "temporal_activity_execution_failed_total"} {
			if !slices.Contains(names, want) {
				ct.Errorf("the worker does not export %s yet", want)
			}
		}
	}, 20*time.Second, 200*time.Millisecond)
	return names
}

// scrapeDemoapp returns the metric names a demo service instance serves once it has
// answered a request.
func scrapeDemoapp(t *testing.T) []string {
	t.Helper()
	store, err := board.OpenStore(filepath.Join(t.TempDir(), "board.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	srv, err := board.New(board.Config{Version: "v1", Store: store})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	resp, err := http.Get(hs.URL + "/api/boards/demo/items")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return scrapeNames(t, hs.URL+"/metrics")
}

var sampleName = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

func scrapeNames(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	require.NoError(t, err)
	var names []string
	for _, m := range sampleName.FindAllStringSubmatch(string(body), -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// sdkMetricNames reads the Temporal Go SDK's metric name constants from its source in
// the module cache (they are in an internal package, so they cannot be imported).
func sdkMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	dir, err := run(t, repoRoot(t), goBinary(), "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/sdk")
	require.NoError(t, err, dir)
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(dir), "internal", "common", "metrics", "constants.go"))
	require.NoError(t, err)
	values := map[string]string{}
	prefix := regexp.MustCompile(`(\w+)\s*=\s*"(temporal_)"`)
	for _, m := range prefix.FindAllStringSubmatch(string(src), -1) {
		values[m[1]] = m[2]
	}
	def := regexp.MustCompile(`(\w+)\s*=\s*(\w+)\s*\+\s*"(\w+)"`)
	names := map[string]bool{}
	for range 3 { // constants built on constants (TemporalRequest + "_failure")
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			if base, ok := values[m[2]]; ok {
				values[m[1]] = base + m[3]
				names[base+m[3]] = true
			}
		}
	}
	require.True(t, names["temporal_num_pollers"], "could not read the SDK's metric names")
	return names
}
