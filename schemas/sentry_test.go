package schemas_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

// A sentry analysis names its project and measures; Sentry's SaaS is the default URL
// and no token can be written in the spec.
func TestSentryAnalysisSpec(t *testing.T) {
	spec, err := schemas.Parse([]byte(`service: board
environment: prod
target: {provider: memory, instances: 4}
canary:
  soak: 10m
  analysis:
    provider: sentry
    interval: 2m
    step: 20s
    sentry: {organization: acme, project: board, environment: production}
    metrics:
      - {name: new-issues, query: newIssues, max: 0}
      - {name: errors-per-request, query: errorsPerRequest, vsBaseline: 2, baselineFloor: 0.01}
`))
	require.NoError(t, err)
	s := spec.Canary.Analysis.Sentry
	require.Equal(t, schemas.Sentry{URL: schemas.DefaultSentryURL, Organization: "acme", Project: "board", Environment: "production"}, *s)

	_, err = schemas.Parse([]byte(`service: board
environment: prod
target: {provider: memory, instances: 4}
canary: {analysis: {provider: sentry, sentry: {organization: acme, project: board, token: sntrys_abc}, metrics: [{name: e, query: newIssues, max: 0}]}}
`))
	require.ErrorContains(t, err, `canary.analysis.sentry: unknown field "token"`)
}
