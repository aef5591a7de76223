package deployments_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestPrometheusRulesCheck(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out, err := run(t, "prometheus", promtool, "check", "rules", "alerts.yaml")
	require.NoError(t, err, out)
	require.Contains(t, out, "SUCCESS")
	// The scrape config loads the rules; its file_sd path only exists on a real install.
	out, err = run(t, "prometheus", promtool, "check", "config", "prometheus.yml")
	require.NoError(t, err, out)
}

// promtool test rules runs alerts_test.yaml: series in, the exact alerts (labels and
// annotations) out, including the ones that must not fire.
func TestPrometheusRulesUnitTests(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	out, err := run(t, "prometheus", promtool, "test", "rules", "alerts_test.yaml")
	require.NoError(t, err, out)
	require.Contains(t, out, "SUCCESS")
}

// Every alert has a unit test that expects it to fire.
func TestPrometheusEveryAlertIsTested(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, filepath.Join("prometheus", "alerts.yaml"), &rules)
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, filepath.Join("prometheus", "alerts_test.yaml"), &tests)
	var fired []string
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired = append(fired, a.Alertname)
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				n++
				require.True(t, slices.Contains(fired, r.Alert), "alert %s has no test that sees it fire", r.Alert)
			}
		}
	}
	require.GreaterOrEqual(t, n, 6)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, v), path)
}
