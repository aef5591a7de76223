package aws_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/schemas"
)

var callRE = regexp.MustCompile(`\b(ec2|elasticloadbalancing|autoscaling):([A-Z][A-Za-z]+)`)

func exampleSpec(t *testing.T) *schemas.Spec {
	spec, err := schemas.Load(filepath.Join("..", "..", "examples", "aws", "board.yaml"))
	require.NoError(t, err)
	return spec
}

// The example spec: six instances, a canary of one, batches of two.
var exampleShape = awsfleet.PlanShape{Strategy: schemas.StrategyRolling, Old: 6, Canary: 1, Batches: []awsfleet.PlanBatch{
	{Launch: 2, OldAttached: 3}, {Launch: 2, OldAttached: 1}, {Launch: 1, OldAttached: 0},
}}

func TestPlanCallsNameOnlyWhatTheFleetCalls(t *testing.T) {
	spec := exampleSpec(t)
	lines := awsfleet.PlanCalls(*spec, "v2.4.0", exampleShape)
	require.NotEmpty(t, lines)
	named := map[string]bool{}
	for _, m := range callRE.FindAllStringSubmatch(strings.Join(lines, "\n"), -1) {
		named[m[0]] = true
	}
	// With ec2-image instead of packer, the rest of the calls appear too.
	spec.Bake = schemas.Bake{Method: schemas.BakeEC2Image, UserData: "#!/bin/sh\n"}
	for _, m := range callRE.FindAllStringSubmatch(strings.Join(awsfleet.PlanCalls(*spec, "v2.4.0", exampleShape), "\n"), -1) {
		named[m[0]] = true
	}
	ops := operations()
	for op := range named {
		require.Contains(t, ops, op, "zerodown plan names %s, which the fleet never calls", op)
	}
	for _, op := range ops {
		require.True(t, named[op], "zerodown plan never mentions %s, which the fleet calls", op)
	}
}

func TestPlanCallsFollowThePlan(t *testing.T) {
	lines := awsfleet.PlanCalls(*exampleSpec(t), "v2.4.0", exampleShape)
	text := strings.Join(lines, "\n")
	require.Contains(t, lines[0], "eu-west-1")
	require.Contains(t, lines[0], "zerodown:service=board zerodown:environment=prod")
	require.Contains(t, text, "packer build -machine-readable -var version=v2.4.0 packer/board.pkr.hcl")
	require.Contains(t, text, "ec2:RunInstances over 3 subnet(s) (launch template lt-0abc1234def567890 $Default")
	require.Contains(t, text, "canary:    launch 1\n")
	require.Contains(t, text, "batch 1/3: launch 2, then detach 3 old\n")
	require.Contains(t, text, "batch 3/3: launch 1, then detach 1 old\n")
	require.Contains(t, text, "autoscaling:SuspendProcesses (Launch, Terminate, ReplaceUnhealthy, AZRebalance, AlarmNotification, ScheduledActions)")
	require.Contains(t, text, "ec2:TerminateInstances (6 old)")
	detached := 0
	for _, l := range lines {
		if i := strings.Index(l, "detach "); i >= 0 {
			var n int
			_, err := fmt.Sscan(l[i+len("detach "):], &n)
			require.NoError(t, err)
			detached += n
		}
	}
	require.Equal(t, 6, detached, "every old instance is detached once")

	// Without an Auto Scaling group or weights there is nothing to hold or restore.
	spec := exampleSpec(t)
	spec.Target.AWS.AutoScalingGroup, spec.Target.AWS.ListenerRuleArn, spec.Target.AWS.CanaryTargetGroup = "", "", ""
	spec.Bake.Method = schemas.BakeNone
	text = strings.Join(awsfleet.PlanCalls(*spec, "v2.4.0", exampleShape), "\n")
	require.NotContains(t, text, "autoscaling:")
	require.NotContains(t, text, "ModifyRule")
	require.Contains(t, text, "bake:      none:")
	require.False(t, slices.ContainsFunc(awsfleet.PlanCalls(schemas.Spec{}, "v", exampleShape), func(string) bool { return true }), "no aws target, no calls")
}
