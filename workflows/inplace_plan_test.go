package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// `zerodown plan` of an in-place spec names the servers in the order the release takes
// them, the canary first, and the batches the servers out at once allow.
func TestPlanOfAnInPlaceSpec(t *testing.T) {
	s, err := schemas.Parse([]byte(`service: board
environment: prod
target:
  provider: haproxy
  instances: 5
  haproxy:
    runtimeAPI: /run/haproxy.sock
    backend: board
    servers: [{name: web1}, {name: web2}, {name: web3}, {name: web4}, {name: web5}]
promote: {batch: 2, maxUnavailable: 2}
deploy:
  command: [ansible-playbook, -l, "{{.Server}}", -e, "version={{.Version}}", site.yml]
`))
	require.NoError(t, err)
	steps := workflows.NewPlan(*s, 5).Steps(*s, "v2", "v1")
	require.Contains(t, steps[0], "v1 -> v2 in place on 5 server(s) behind HAProxy backend board; at most 2 out of service at once, at least 1 serving")
	require.Contains(t, steps[1], "deploy (ansible-playbook -l {{.Server}} -e version={{.Version}} site.yml, at most 10m0s)")
	require.Equal(t, []string{"canary: web1"}, steps[2:3])
	require.Equal(t, []string{"batch 1: web2, web3", "batch 2: web4, web5"}, steps[4:6])
}
