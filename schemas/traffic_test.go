package schemas_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

// Traffic steps: the soak is divided across the steps unless stepSoak says how long
// each lasts, and then the soak is their sum.
func TestTrafficStepsSoak(t *testing.T) {
	s, err := schemas.Parse([]byte(base + "canary: {traffic: [1, 5, 25, 50], soak: 1h}\n"))
	require.NoError(t, err)
	require.Equal(t, []int{1, 5, 25, 50}, s.Canary.Traffic)
	require.Equal(t, 15*time.Minute, s.Canary.StepSoakOrDefault())

	s, err = schemas.Parse([]byte(base + "canary: {traffic: [10, 50], stepSoak: 20m}\n"))
	require.NoError(t, err)
	require.Equal(t, 40*time.Minute, s.Canary.Soak.D())
	require.Equal(t, 20*time.Minute, s.Canary.StepSoakOrDefault())
}

func TestTrafficStepsRefused(t *testing.T) {
	aws := "service: board\nenvironment: prod\ntarget:\n  provider: aws\n  instances: 4\n  aws: {region: eu-west-1, launchTemplate: lt-1, targetGroups: [arn:tg]}\n"
	for _, tc := range []struct{ name, yaml, path, msg string }{
		{"shrinking", base + "canary: {traffic: [5, 5, 25]}\n", "canary.traffic[1]", "is 5, not more than the step before it (5)"},
		{"100 percent", base + "canary: {traffic: [50, 100]}\n", "canary.traffic[1]", "must be at most 99"},
		{"too short a step", base + "canary: {traffic: [1, 5, 25, 50], soak: 2m, analysis: {interval: 1m}}\n", "canary.stepSoak", "shorter than canary.analysis.interval"},
		{"stepSoak and soak disagree", base + "canary: {traffic: [1, 5], stepSoak: 10m, soak: 1h}\n", "canary.stepSoak", "does not add up to canary.soak"},
		{"stepSoak alone", base + "canary: {stepSoak: 10m}\n", "canary.stepSoak", "without canary.traffic"},
		{"aws without weighted forward", aws + "canary: {traffic: [5, 50]}\n", "canary.traffic", "needs target.aws.listenerRuleArn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(tc.yaml))
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			found := false
			for _, fe := range verr.Errors {
				if fe.Path == tc.path {
					require.Contains(t, fe.Message, tc.msg)
					found = true
				}
			}
			require.True(t, found, "no error at %s in %v", tc.path, err)
		})
	}
}
