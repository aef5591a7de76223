package deployments_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of the Compose specification the install uses.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                                `yaml:"image"`
	Build       *struct{ Context, Dockerfile string } `yaml:"build"`
	DependsOn   yaml.Node                             `yaml:"depends_on"`
	Entrypoint  []string                              `yaml:"entrypoint"`
	Command     []string                              `yaml:"command"`
	Environment map[string]string                     `yaml:"environment"`
	Volumes     []string                              `yaml:"volumes"`
	Ports       []string                              `yaml:"ports"`
	Profiles    []string                              `yaml:"profiles"`
	Healthcheck map[string]any                        `yaml:"healthcheck"`
	StopGrace   string                                `yaml:"stop_grace_period"`
	ReadOnly    bool                                  `yaml:"read_only"`
	SecurityOpt []string                              `yaml:"security_opt"`
	CapDrop     []string                              `yaml:"cap_drop"`
	Restart     string                                `yaml:"restart"`
}

// No Docker engine runs here, so the test reads the Compose file itself, strictly (an
// unknown key fails), and checks that what it references holds together.
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("compose", "compose.yaml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	var c composeFile
	require.NoError(t, dec.Decode(&c))
	return c
}

var composeVar = regexp.MustCompile(`\$\{(\w+)(?:(:?[-?])([^}]*))?\}`)

// interpolate replaces ${VAR:-default} by its default, as Compose does with VAR unset.
func interpolate(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if strings.HasSuffix(sub[2], "-") {
			return sub[3]
		}
		return "x"
	})
}

func TestComposeInstall(t *testing.T) {
	c := loadCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	require.Equal(t, []string{"grafana", "postgresql", "prometheus", "temporal", "temporal-setup", "temporal-ui", "zerodown-slack-bridge", "zerodown-worker"}, names)

	raw, err := os.ReadFile(filepath.Join("compose", "compose.yaml"))
	require.NoError(t, err)
	env, err := os.ReadFile(filepath.Join("compose", ".env.example"))
	require.NoError(t, err)
	for _, m := range composeVar.FindAllStringSubmatch(string(raw), -1) {
		require.Regexp(t, `(?m)^`+m[1]+`=`, string(env), "compose.yaml uses $%s: .env.example must list it", m[1])
	}

	makefile, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	require.NoError(t, err)
	serverVersion := regexp.MustCompile(`(?m)^TEMPORAL_SERVER_VERSION := (\S+)`).FindStringSubmatch(string(makefile))
	require.NotNil(t, serverVersion)

	for name, s := range c.Services {
		// Every image is pinned; zerodown's is the one make image and the Dockerfile build.
		repo, tag, ok := strings.Cut(s.Image, ":")
		require.True(t, ok && tag != "", "%s: image %q has no tag", name, s.Image)
		if strings.HasPrefix(repo, "temporalio/") && repo != "temporalio/ui" {
			require.Equal(t, serverVersion[1], tag, "%s: the Temporal version zerodown is tested against", name)
		}
		if strings.HasPrefix(name, "zerodown-") {
			require.Equal(t, imageTag(t), s.Image, name)
			require.True(t, s.ReadOnly, name)
			require.Equal(t, []string{"ALL"}, s.CapDrop, name)
			require.Equal(t, "temporal:7233", s.Environment["TEMPORAL_ADDRESS"], name)
			require.Equal(t, "45s", s.StopGrace, "%s: graceful stop takes up to 35s", name)
			program := "/zerodown"
			if len(s.Entrypoint) > 0 {
				program = s.Entrypoint[0]
			}
			var args []string
			for _, a := range s.Command {
				args = append(args, interpolate(a))
			}
			out, code := runCLI(program, args)
			require.Equal(t, 0, code, "%s: %v\n%s", name, args, out)
		}
		// Secrets come from .env, never written in compose.yaml.
		for k, v := range s.Environment {
			if secretish(k) {
				require.Regexp(t, `^\$\{\w+[^}]*\}$`, v, "%s: %s must come from .env", name, k)
			}
		}
		if s.Build != nil {
			require.FileExists(t, filepath.Join("compose", s.Build.Context, s.Build.Dockerfile), name)
		}
		for _, dep := range dependsOn(t, s.DependsOn) {
			_, ok := c.Services[dep]
			require.True(t, ok, "%s depends on %s, which is not a service", name, dep)
		}
		for _, v := range s.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(host, ".") {
				_, err := os.Stat(filepath.Join("compose", host))
				require.NoError(t, err, "%s mounts %s", name, host)
			} else {
				_, ok := c.Volumes[host]
				require.True(t, ok, "%s: volume %s is not declared", name, host)
			}
		}
		for _, p := range s.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s publishes %s beyond this machine", name, p)
		}
	}
	// The bridge listens on the port it publishes.
	bridge := c.Services["zerodown-slack-bridge"]
	require.Equal(t, []string{"slack"}, bridge.Profiles, "the bridge runs only with --profile slack")
	_, listenPort, err := net.SplitHostPort(flagValue(bridge.Command, "--listen"))
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(bridge.Ports[0], ":"+listenPort), "bridge listens on %s, publishes %s", listenPort, bridge.Ports[0])
}

// The compose Prometheus scrapes the worker where it listens and loads the alert rules;
// Grafana's datasource is that Prometheus.
func TestComposeMonitoring(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	c := loadCompose(t)
	worker := c.Services["zerodown-worker"]
	_, metricsPort, err := net.SplitHostPort(flagValue(worker.Command, "--metrics"))
	require.NoError(t, err)

	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join("compose", "prometheus.yml"), &prom)
	require.Equal(t, "zerodown-worker", prom.ScrapeConfigs[0].JobName, "the job name alerts.yaml and the dashboard select")
	require.Equal(t, []string{"zerodown-worker:" + metricsPort}, prom.ScrapeConfigs[0].StaticConfigs[0].Targets)
	// The rule file is mounted where the config reads it.
	require.Contains(t, c.Services["prometheus"].Volumes, "../prometheus/alerts.yaml:"+prom.RuleFiles[0]+":ro")

	// promtool checks the config with the rule path pointed at the repository's file.
	text, err := os.ReadFile(filepath.Join("compose", "prometheus.yml"))
	require.NoError(t, err)
	rules, err := filepath.Abs(filepath.Join("prometheus", "alerts.yaml"))
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "prometheus.yml")
	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(string(text), prom.RuleFiles[0], rules)), 0o644))
	out, err := run(t, "", promtool, "check", "config", file)
	require.NoError(t, err, out)

	var ds struct {
		Datasources []struct {
			Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join("compose", "grafana", "datasources", "prometheus.yaml"), &ds)
	u, err := url.Parse(ds.Datasources[0].URL)
	require.NoError(t, err)
	require.Equal(t, "prometheus", u.Hostname())
	require.Contains(t, c.Services["prometheus"].Ports, "127.0.0.1:"+u.Port()+":"+u.Port())
	require.Contains(t, c.Services["grafana"].Volumes, "../grafana/zerodown.json:/var/lib/grafana/dashboards/zerodown.json:ro")
}

// dependsOn reads depends_on in either of its two forms: a list, or a map of conditions.
func dependsOn(t *testing.T, n yaml.Node) []string {
	t.Helper()
	var names []string
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		require.NoError(t, n.Decode(&names))
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		require.NoError(t, n.Decode(&m))
		for k, v := range m {
			require.Contains(t, []string{"service_started", "service_healthy", "service_completed_successfully"}, v.Condition, k)
			names = append(names, k)
		}
	default:
		t.Fatalf("depends_on: unexpected YAML %v", n.Kind)
	}
	return names
}
