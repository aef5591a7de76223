package haproxy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/schemas"
)

const fixedSpec = `service: board
environment: prod
target:
  provider: haproxy
  instances: 3
  haproxy:
    runtimeAPI: /run/haproxy/admin.sock
    backend: board
    versionPath: /healthz
    versionHeader: X-Demoapp-Version
    servers:
      - {name: web1, address: "10.0.0.1:8080", vars: {host: web1.example.com}}
      - {name: web2}
      - {name: web3}
deploy:
  command: [deploy-board, "{{.Server}}", "{{.Version}}"]
`

func TestSpecOfFixedServersBuildsAFleet(t *testing.T) {
	spec, err := schemas.Parse([]byte(fixedSpec))
	require.NoError(t, err)
	h := spec.Target.HAProxy
	require.Equal(t, "/run/haproxy/admin.sock", h.RuntimeAPI)
	require.Equal(t, schemas.HAProxyServer{Name: "web1", Address: "10.0.0.1:8080", Vars: map[string]string{"host": "web1.example.com"}}, h.Servers[0])
	f, err := haproxy.Factory(spec.Target)
	require.NoError(t, err)
	require.Equal(t, "/run/haproxy/admin.sock", f.(*haproxy.Fleet).Client().Address())
}

func TestSpecErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, target, field string }{
		{"missing", "{provider: haproxy, instances: 2}", "target.haproxy"},
		{"socket", "{provider: haproxy, instances: 2, haproxy: {runtimeAPI: admin.sock, backend: web}}", "target.haproxy.runtimeAPI"},
		{"backend", "{provider: haproxy, instances: 2, haproxy: {runtimeAPI: /s, backend: 'web; shutdown'}}", "target.haproxy.backend"},
		{"server", "{provider: haproxy, instances: 2, haproxy: {runtimeAPI: /s, backend: web, servers: [{name: 'a b'}]}}", "target.haproxy.servers[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte("service: board\nenvironment: prod\ntarget: " + tc.target + "\n"))
			require.ErrorContains(t, err, tc.field)
		})
	}
}

func TestFactoryRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target schemas.Target
		want   string
	}{
		{"no haproxy", schemas.Target{Provider: schemas.ProviderHAProxy}, "target.haproxy is required"},
		{"launched without local", schemas.Target{HAProxy: &schemas.HAProxySpec{RuntimeAPI: "/s", Backend: "web"}}, "target.local is required"},
		{"bad address", schemas.Target{HAProxy: &schemas.HAProxySpec{RuntimeAPI: "s", Backend: "web", Servers: []schemas.HAProxyServer{{Name: "a"}}}}, "target.haproxy.runtimeAPI"},
		{"twice", schemas.Target{HAProxy: &schemas.HAProxySpec{RuntimeAPI: "/s", Backend: "web", Servers: []schemas.HAProxyServer{{Name: "a"}, {Name: "a"}}}}, "a is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := haproxy.Factory(tc.target)
			require.ErrorIs(t, err, fleet.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// The spec in the operator's guide must stay a valid spec of a fixed fleet.
func TestOnpremGuideSpecIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "onprem.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	require.Len(t, blocks, 3, "the spec, then the Ansible and ssh deploy commands")
	spec, err := schemas.Parse([]byte(blocks[0][1]))
	require.NoError(t, err, "docs/onprem.md example:\n%s", blocks[0][1])
	_, err = haproxy.Factory(spec.Target)
	require.NoError(t, err)
	require.Len(t, spec.Target.HAProxy.Servers, 4)
	// Each deploy command of the guide, in place of the spec's own.
	head, _, ok := strings.Cut(blocks[0][1], "\ndeploy:")
	require.True(t, ok, "the guide's spec has a deploy")
	for _, block := range blocks[1:] {
		_, err := schemas.Parse([]byte(head + "\n" + block[1]))
		require.NoError(t, err, "docs/onprem.md deploy:\n%s", block[1])
	}
}
