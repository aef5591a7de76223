package schemas_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const inPlaceTarget = `service: board
environment: prod
target:
  provider: haproxy
  instances: 4
  haproxy:
    runtimeAPI: /run/haproxy.sock
    backend: board
    servers:
      - {name: web1, address: "10.0.0.11:8080", vars: {host: web1.example.com}}
      - {name: web2, vars: {host: web2.example.com}}
      - {name: web3, vars: {host: web3.example.com}}
      - {name: web4, vars: {host: web4.example.com}}
`

const inPlaceBase = inPlaceTarget + `deploy:
  command: [ansible-playbook, site.yml, -l, "{{.Vars.host}}", -e, "version={{.Version}}"]
  timeout: 5m
`

func TestDeployRendersPerServer(t *testing.T) {
	s, err := schemas.Parse([]byte(inPlaceBase))
	require.NoError(t, err)
	require.True(t, s.InPlace())
	srv := s.Target.HAProxy.Servers[0]
	args, err := s.Deploy.DeployCommand(schemas.DeployVars{Server: srv.Name, Address: srv.Address, Version: "v2", Vars: srv.Vars})
	require.NoError(t, err)
	require.Equal(t, []string{"ansible-playbook", "site.yml", "-l", "web1.example.com", "-e", "version=v2"}, args)
	require.Equal(t, 1, schemas.InPlaceOutAtOnce(s))

	// The version reaches Ansible, ssh and remote shells: only plain versions do.
	_, err = s.Deploy.DeployCommand(schemas.DeployVars{Server: srv.Name, Version: "v2; rm -rf /", Vars: srv.Vars})
	require.ErrorContains(t, err, `version: "v2; rm -rf /" is not a version an in-place deploy accepts`)
}

func TestDeployInvalidSpecs(t *testing.T) {
	for _, tc := range []struct{ name, yaml, path, msg string }{
		{"missing with servers", inPlaceTarget, "deploy", "is required with target.haproxy.servers"},
		{"on a launched fleet", "service: board\nenvironment: prod\ntarget:\n  provider: local\n  instances: 2\n  local:\n    command: [demo]\ndeploy:\n  command: [x]\n", "deploy", "is only for fixed servers"},
		{"function call", inPlaceTarget + "deploy:\n  command: [sh, \"{{printf \\\"%s\\\" .Server}}\"]\n", "deploy.command[1]", "only {{.Server}}"},
		{"template definition", inPlaceTarget + "deploy:\n  command: [\"{{define \\\"a\\\"}}{{template \\\"a\\\"}}{{end}}\"]\n", "deploy.command[0]", "defines a template"},
		{"range", inPlaceTarget + "deploy:\n  command: [\"{{range .Vars}}x{{end}}\"]\n", "deploy.command[0]", "only {{.Server}}"},
		{"unknown field", inPlaceTarget + "deploy:\n  command: [\"{{.Port}}\"]\n", "deploy.command[0]", "only {{.Server}}"},
		{"unparsable", inPlaceTarget + "deploy:\n  command: [\"{{.Server\"]\n", "deploy.command[0]", "unclosed action"},
		{"var a server lacks", strings.Replace(inPlaceBase, "{name: web3, vars: {host: web3.example.com}}", "{name: web3}", 1), "deploy.command[3]", "target.haproxy.servers[2] (web3) has no vars.host"},
		{"instances differ", strings.Replace(inPlaceBase, "instances: 4", "instances: 3", 1), "target.instances", "lists 4 servers"},
		{"min healthy", inPlaceBase + "promote: {minHealthy: 4}\n", "promote.minHealthy", "only 3 would serve"},
		{"min healthy with batch", inPlaceBase + "promote: {minHealthy: 3, batch: 2, maxUnavailable: 2}\n", "promote.minHealthy", "2 out at once"},
		{"deploy timeout", strings.Replace(inPlaceBase, "timeout: 5m", "timeout: 0s", 1), "deploy.timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(tc.yaml))
			var ve *schemas.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.Equal(t, tc.path, ve.Errors[0].Path, "%v", err)
			require.Contains(t, ve.Errors[0].Message, tc.msg)
		})
	}
}
