package schemas_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const hookSpec = `service: board
environment: prod
target: {provider: memory, instances: 2}
hooks:
  preTraffic:
    - command:
        args: [sh, -c, ./smoke.sh]
`

// A command hook's environment is what it lists: names passed from the worker and
// fixed values, both bounded.
func TestCommandHookEnvironment(t *testing.T) {
	s, err := schemas.Parse([]byte(hookSpec + "        passEnv: [DEPLOY_TOKEN]\n        env: {SMOKE_URL: http://canary}\n"))
	require.NoError(t, err)
	c := s.Hooks.PreTraffic[0].Command
	require.Equal(t, []string{"DEPLOY_TOKEN"}, c.PassEnv)
	require.Equal(t, map[string]string{"SMOKE_URL": "http://canary"}, c.Env)

	many := "        env:\n"
	for i := range 33 {
		many += fmt.Sprintf("          V%d: x\n", i)
	}
	const field = "hooks.preTraffic[0].command."
	for _, c := range []struct{ extra, want string }{
		{"        passEnv: [1BAD]\n", field + "passEnv[0]: must be an environment variable name"},
		{"        passEnv: [A, A]\n", field + `passEnv[1]: "A" is listed twice`},
		{"        passEnv: [" + strings.Repeat("A,", 32) + "B]\n", field + "passEnv: must have at most 32 items"},
		{"        passEnv: [" + strings.Repeat("A", 129) + "]\n", field + "passEnv[0]: must be an environment variable name"},
		{"        env: {B-C: x}\n", field + `env: key "B-C" must be an environment variable name`},
		{"        env: {" + strings.Repeat("A", 129) + ": x}\n", field + "env: key"},
		{"        env: {A: " + strings.Repeat("x", 4097) + "}\n", field + "env.A: must be at most 4096 characters long"},
		{many, field + "env: may set at most 32 variables"},
	} {
		_, err := schemas.Parse([]byte(hookSpec + c.extra))
		require.ErrorContains(t, err, c.want, "%.60s", c.extra)
	}
}
