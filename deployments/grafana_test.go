package deployments_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type grafanaDashboard struct {
	Title      string         `json:"title"`
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("grafana", "zerodown.json"))
	require.NoError(t, err)
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	return d
}

// dashboardQueries are the dashboard's PromQL expressions, by panel title.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// The dashboard loads, its panels are well formed, and each uses the datasource variable.
func TestGrafanaDashboardLoads(t *testing.T) {
	d := loadDashboard(t)
	require.Equal(t, "zerodown", d.UID)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	require.Equal(t, "datasource", vars["datasource"])
	ids := map[int]bool{}
	var titles []string
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q is wider than the grid", p.Title)
		if p.Type == "row" {
			continue
		}
		titles = append(titles, p.Title)
		require.NotNil(t, p.Datasource, p.Title)
		require.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, p.Title)
			require.False(t, refs[tg.RefID], "panel %q: refId %s twice", p.Title, tg.RefID)
			refs[tg.RefID] = true
			for _, v := range grafanaVars.FindAllString(tg.Expr, -1) {
				name := strings.Trim(v, "${}")
				_, defined := vars[name]
				require.True(t, defined || strings.HasPrefix(name, "__"), "panel %q uses $%s, which the dashboard does not define", p.Title, name)
			}
		}
	}
	for _, want := range []string{"Releases by phase", "Share of requests per version", "Sessions migrated", "Checks run and failed", "Pollers on the zerodown task queue"} {
		require.Contains(t, titles, want)
	}
}

// Every query parses as PromQL: promtool checks them as recording rules.
func TestGrafanaQueriesParse(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query:%d", len(rules)), Expr: grafanaToPromQL(e)})
		}
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	raw, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, raw, 0o644))
	out, err := run(t, "", promtool, "check", "rules", file)
	require.NoError(t, err, out)
}
