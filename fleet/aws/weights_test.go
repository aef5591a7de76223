package aws_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/schemas"
)

// canaryWorld is a fleet of two v1 instances behind a weighted listener rule, with one
// v2 canary launched and attached: where a release with traffic steps starts.
func canaryWorld(t *testing.T, stickiness time.Duration) (w *world, f *awsfleet.Fleet, old, canary []string) {
	t.Helper()
	w = newWorld(t)
	w.cloud.AddTargetGroup(canaryTG)
	w.cloud.AddRule(ruleARN, blueTG)
	w.spec.ListenerRuleArn, w.spec.CanaryTargetGroup = ruleARN, canaryTG
	w.spec.Stickiness = schemas.Duration(stickiness)
	old = w.oldFleet(2, "v1")
	f = w.fleet(t)
	c, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 1})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(c)))
	require.NoError(t, f.Attach(ctxT(t), ids(c)))
	return w, f, old, ids(c)
}

// stepThrough sets each share of a traffic-steps release as the workflow does and checks
// that the rule's weighted forward carries it, with the canary in the canary group.
func stepThrough(t *testing.T, w *world, f *awsfleet.Fleet, canary []string, shares ...int) {
	t.Helper()
	for _, share := range shares {
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{"v1": 100 - share, "v2": share}))
		require.Equal(t, map[string]int{blueTG: 100 - share, canaryTG: share}, w.cloud.RuleWeights(ruleARN), "step %d%%", share)
		require.Equal(t, "healthy", w.cloud.TargetState(canaryTG, canary[0]))
		st, err := f.Describe(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, map[string]int{"v1": 100 - share, "v2": share}, st.Weights, "step %d%%: Describe reads the share back", share)
	}
}

// requireRestored: all traffic to the stable group, every attached instance in it, none
// left in the canary group.
func requireRestored(t *testing.T, w *world, attached ...string) {
	t.Helper()
	require.Equal(t, map[string]int{blueTG: 100, canaryTG: 0}, w.cloud.RuleWeights(ruleARN))
	for _, id := range attached {
		require.Equal(t, "healthy", w.cloud.TargetState(blueTG, id), "%s serves from the stable group", id)
		require.Contains(t, []string{"", "draining"}, w.cloud.TargetState(canaryTG, id), "%s left the canary group", id)
	}
}

// The three ways out of a stepped release each end with SetWeights({}); the rule must
// come back to the stable group whatever step the release stopped at.
func TestTrafficStepsAreRestoredOnEveryExit(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		w, f, old, canary := canaryWorld(t, 0)
		stepThrough(t, w, f, canary, 1, 5, 25, 50)
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}))
		// Both versions still attached: the promote goes on with an equal share per instance.
		requireRestored(t, w, append(old, canary...)...)
		st, err := f.Describe(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, map[string]int{"v1": 67, "v2": 33}, st.Weights, "one share per instance: 2 of 3 on v1")
	})
	t.Run("rollback", func(t *testing.T) {
		w, f, old, canary := canaryWorld(t, 0)
		stepThrough(t, w, f, canary, 1, 5, 25)
		// A failed check: the canary goes to 0 % at once, still attached until it drains.
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{"v1": 100, "v2": 0}))
		require.Equal(t, map[string]int{blueTG: 100, canaryTG: 0}, w.cloud.RuleWeights(ruleARN))
		require.Equal(t, "healthy", w.cloud.TargetState(canaryTG, canary[0]), "sent nothing, but not yet deregistered")
		require.NoError(t, f.Detach(ctxT(t), canary))
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}))
		requireRestored(t, w, old...)
		require.Empty(t, w.cloud.TargetState(blueTG, canary[0]), "the rolled-back canary is not put back")
	})
	t.Run("failure", func(t *testing.T) {
		w, f, old, canary := canaryWorld(t, 0)
		stepThrough(t, w, f, canary, 1, 5)
		// The release fails mid-step; the exit restores before anything else.
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}))
		requireRestored(t, w, append(old, canary...)...)
		require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}), "restoring twice is harmless")
		requireRestored(t, w, append(old, canary...)...)
	})
}

func TestRestoringWithoutAWeightedRuleIsNothing(t *testing.T) {
	w := newWorld(t)
	w.oldFleet(2, "v1")
	f := w.fleet(t)
	require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}), "a fleet never weighted has nothing to restore")
	require.Zero(t, count(w.cloud.Calls(), "elasticloadbalancing:ModifyRule"))
}

// target.aws.stickiness turns on the weighted forward's group stickiness while the
// canary takes a share, and off when it takes none: an ALB honours stickiness before
// weights, so a rolled-back canary would otherwise keep its users until their cookie
// expires.
func TestStickinessHoldsWhileTheCanaryServes(t *testing.T) {
	w, f, _, canary := canaryWorld(t, time.Hour)
	stepThrough(t, w, f, canary, 5)
	require.Equal(t, 3600, w.cloud.RuleStickySeconds(ruleARN))
	require.NoError(t, f.SetWeights(ctxT(t), map[string]int{"v1": 100, "v2": 0}))
	require.Zero(t, w.cloud.RuleStickySeconds(ruleARN), "no stickiness to a canary at 0 %")
	require.NoError(t, f.SetWeights(ctxT(t), map[string]int{}))
	require.False(t, w.cloud.RuleSticky(ruleARN))
}
