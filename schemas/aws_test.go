package schemas_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const awsBase = "service: board\nenvironment: prod\ntarget:\n  provider: aws\n  instances: 2\n  aws:\n    region: eu-west-1\n    launchTemplate: lt-1\n"

// The aws fleet sees only the target, so the tags that name its instances come with it.
func TestAWSDefaultsNameTheFleetAfterTheSpec(t *testing.T) {
	s, err := schemas.Parse([]byte(awsBase))
	require.NoError(t, err)
	a := s.Target.AWS
	require.Equal(t, "board", a.Service)
	require.Equal(t, "prod", a.Environment)
	require.Equal(t, 80, a.Port)
	require.Equal(t, "$Default", a.LaunchTemplateVersion)

	s, err = schemas.Parse([]byte(awsBase + "    service: board-web\n    launchTemplateVersion: $Latest\n    port: 8080\n"))
	require.NoError(t, err)
	require.Equal(t, "board-web", s.Target.AWS.Service)
	require.Equal(t, "$Latest", s.Target.AWS.LaunchTemplateVersion)
	require.Equal(t, 8080, s.Target.AWS.Port)
}

func TestAWSStickinessIsADuration(t *testing.T) {
	s, err := schemas.Parse([]byte(awsBase + "    targetGroups: [tg-a]\n    listenerRuleArn: rule\n    canaryTargetGroup: tg-b\n    stickiness: 1h\n"))
	require.NoError(t, err)
	require.Equal(t, time.Hour, s.Target.AWS.Stickiness.D())
}

func TestAWSInvalidSpecs(t *testing.T) {
	for _, tc := range []struct{ name, yaml, path, msg string }{
		{"template version", awsBase + "    launchTemplateVersion: latest\n", "target.aws.launchTemplateVersion", "must be a version number, $Default or $Latest"},
		{"rule without canary group", awsBase + "    targetGroups: [tg-a]\n    listenerRuleArn: rule\n", "target.aws.canaryTargetGroup", "is required with listenerRuleArn"},
		{"canary group without rule", awsBase + "    targetGroups: [tg-a]\n    canaryTargetGroup: tg-b\n", "target.aws.listenerRuleArn", "is required with canaryTargetGroup"},
		{"canary group without stable", awsBase + "    listenerRuleArn: rule\n    canaryTargetGroup: tg-b\n", "target.aws.targetGroups", "is required with canaryTargetGroup"},
		{"canary group also stable", awsBase + "    targetGroups: [tg-a, tg-b]\n    listenerRuleArn: rule\n    canaryTargetGroup: tg-b\n", "target.aws.canaryTargetGroup", "is also in targetGroups"},
		{"port", awsBase + "    port: 70000\n", "target.aws.port", ""},
		{"stickiness without rule", awsBase + "    targetGroups: [tg-a]\n    stickiness: 1h\n", "target.aws.stickiness", "needs listenerRuleArn"},
		{"stickiness over a week", awsBase + "    targetGroups: [tg-a]\n    listenerRuleArn: rule\n    canaryTargetGroup: tg-b\n    stickiness: 169h\n", "target.aws.stickiness", "at most 168h"},
		{"stickiness under a second", awsBase + "    targetGroups: [tg-a]\n    listenerRuleArn: rule\n    canaryTargetGroup: tg-b\n    stickiness: 500ms\n", "target.aws.stickiness", "at least 1s"},
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
