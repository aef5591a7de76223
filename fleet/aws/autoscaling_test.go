package aws_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
)

const release = "release/board/prod/0190c0de-run"

// groupWorld is a fleet owned by an Auto Scaling group (min 1, max 2) of two instances
// the group launched itself (before zerodown), behind the blue target group.
func groupWorld(t *testing.T) (*world, *awsfleet.Fleet, []string) {
	return groupWorldSized(t, 1, 2)
}

func groupWorldSized(t *testing.T, minSize, maxSize int) (*world, *awsfleet.Fleet, []string) {
	w := newWorld(t)
	w.cloud.AddGroup(asgName, minSize, maxSize, 2, lt, blueTG)
	w.spec.AutoScalingGroup = asgName
	f := w.fleet(t)
	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Len(t, st.Instances, 2, "the group's members are the fleet")
	for _, in := range st.Instances {
		require.True(t, in.Attached && in.Healthy)
		require.Equal(t, baseAMI, in.Version, "untagged members are known by their AMI")
	}
	return w, f, ids(st.Instances)
}

// launchAttach is what the release does for a canary or a batch.
func launchAttach(t *testing.T, f *awsfleet.Fleet, step, image string, n int) []string {
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: release + "/" + step, Version: "v2", Image: image, Count: n})
	require.NoError(t, err)
	require.NoError(t, f.WaitHealthy(ctxT(t), ids(out)))
	require.NoError(t, f.Attach(ctxT(t), ids(out)))
	return ids(out)
}

func retire(t *testing.T, f *awsfleet.Fleet, old []string) {
	require.NoError(t, f.Detach(ctxT(t), old))
	require.NoError(t, f.WaitDrained(ctxT(t), old))
	require.NoError(t, f.Terminate(ctxT(t), old))
}

func TestAutoScalingHeldDuringARollingReleaseAndRestoredOnSuccess(t *testing.T) {
	w, f, old := groupWorld(t)
	v2 := w.cloud.AddImage("zerodown-board-v2", map[string]string{awsfleet.TagService: "board", awsfleet.TagVersion: "v2"})

	require.NoError(t, f.Prepare(ctxT(t), release))
	g := w.cloud.Group(asgName)
	require.ElementsMatch(t, awsfleet.SuspendedProcesses, g.Suspended)
	require.Equal(t, "min=1,max=2,desired=2", g.Tags[awsfleet.TagGroupCapacity])
	require.Equal(t, release, g.Tags[awsfleet.TagGroupRelease])
	require.NoError(t, f.Prepare(ctxT(t), release), "a retried Prepare is harmless")
	require.False(t, w.cloud.ScaleTo(asgName, 1), "an alarm cannot scale the group in mid-release")

	canary := launchAttach(t, f, "canary", v2, 1)
	g = w.cloud.Group(asgName)
	require.Equal(t, 3, g.Desired, "AttachInstances keeps the desired capacity in step")
	require.Equal(t, 3, g.Max, "the maximum makes room for the surge")
	require.Contains(t, g.Members, canary[0])

	batch := launchAttach(t, f, "batch-1", v2, 1)
	retire(t, f, old)
	g = w.cloud.Group(asgName)
	require.ElementsMatch(t, append(canary, batch...), g.Members)
	require.Equal(t, 2, g.Desired)
	for _, id := range old {
		in, _ := w.cloud.Instance(id)
		require.Equal(t, "shutting-down", in.State, "the group's own instances may be terminated once out of it")
		require.Equal(t, "board", in.Tags[awsfleet.TagService], "adopted as they left the group")
		require.Equal(t, baseAMI, in.Tags[awsfleet.TagVersion])
	}
	require.Zero(t, g.Launched()+g.Terminated(), "the group never acted on its own during the release")

	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release, Succeeded: true, Version: "v2", Image: v2}))
	g = w.cloud.Group(asgName)
	require.Empty(t, g.Suspended)
	require.Empty(t, g.Tags, "the record is gone")
	require.Equal(t, [3]int{1, 2, 2}, [3]int{g.Min, g.Max, g.Desired})
	require.Equal(t, []string{baseAMI, v2}, w.cloud.LaunchTemplate(lt).Versions, "a template version with the new AMI")
	require.Equal(t, "2", g.TemplateV, "and the group launches from it")

	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release, Succeeded: true, Version: "v2", Image: v2}), "a second Finish is harmless")
	require.Equal(t, 1, count(w.cloud.Calls(), "autoscaling:ResumeProcesses"))

	// The group does its job again, and what it launches runs the new version: it
	// replaces an instance that died.
	w.cloud.Crash(canary[0])
	g = w.cloud.Group(asgName)
	require.Equal(t, 1, g.Launched())
	added, _ := w.cloud.Instance(g.Members[len(g.Members)-1])
	require.Equal(t, v2, added.ImageID)
}

func TestAutoScalingRestoredOnRollback(t *testing.T) {
	w, f, old := groupWorld(t)
	v2 := w.cloud.AddImage("zerodown-board-v2", map[string]string{awsfleet.TagService: "board", awsfleet.TagVersion: "v2"})
	require.NoError(t, f.Prepare(ctxT(t), release))
	canary := launchAttach(t, f, "canary", v2, 1)
	require.Equal(t, 3, w.cloud.Group(asgName).Max)

	// The canary fails its checks: the release rolls back.
	require.NoError(t, f.Attach(ctxT(t), old), "old instances are attached again (they still were)")
	retire(t, f, canary)
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release, Succeeded: false, Version: "v2", Image: v2}))

	g := w.cloud.Group(asgName)
	require.Empty(t, g.Suspended)
	require.Empty(t, g.Tags)
	require.ElementsMatch(t, old, g.Members)
	require.Equal(t, [3]int{1, 2, 2}, [3]int{g.Min, g.Max, g.Desired}, "the surge's maximum is given back")
	require.Equal(t, []string{baseAMI}, w.cloud.LaunchTemplate(lt).Versions, "a rollback leaves the template alone")
	require.Equal(t, "$Default", g.TemplateV)
	require.Zero(t, g.Launched()+g.Terminated())
	require.Zero(t, count(w.cloud.Calls(), "ec2:CreateLaunchTemplateVersion"))
}

func TestAutoScalingRollbackOfOldInstancesDetachedMidRelease(t *testing.T) {
	w, f, old := groupWorld(t)
	v2 := w.cloud.AddImage("zerodown-board-v2", map[string]string{awsfleet.TagService: "board", awsfleet.TagVersion: "v2"})
	require.NoError(t, f.Prepare(ctxT(t), release))
	batch := launchAttach(t, f, "batch-1", v2, 2)
	require.NoError(t, f.Detach(ctxT(t), old))
	g := w.cloud.Group(asgName)
	require.Equal(t, 2, g.Desired)

	// A failing postPromote hook: the old instances go back into the group and the
	// load balancer, the new ones leave.
	require.NoError(t, f.Attach(ctxT(t), old))
	retire(t, f, batch)
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release, Version: "v2", Image: v2}))
	g = w.cloud.Group(asgName)
	require.ElementsMatch(t, old, g.Members)
	require.Equal(t, [3]int{1, 2, 2}, [3]int{g.Min, g.Max, g.Desired})
	for _, id := range old {
		require.Equal(t, "healthy", w.cloud.TargetState(blueTG, id))
	}
	require.Zero(t, g.Launched()+g.Terminated())
}

func TestAutoScalingMinimumLoweredWhenTheFleetShrinks(t *testing.T) {
	w, f, old := groupWorldSized(t, 2, 2)
	require.NoError(t, f.Prepare(ctxT(t), release))
	one := launchAttach(t, f, "canary", baseAMI, 1)
	retire(t, f, old) // target.instances is 1: the fleet shrinks below the group's minimum
	g := w.cloud.Group(asgName)
	require.Equal(t, one, g.Members)
	require.Equal(t, [3]int{1, 3, 1}, [3]int{g.Min, g.Max, g.Desired})
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release, Succeeded: true, Version: "v2"}))
	g = w.cloud.Group(asgName)
	require.Equal(t, [3]int{1, 2, 1}, [3]int{g.Min, g.Max, g.Desired}, "the minimum stays where the fleet is, or the group would launch old instances")
}

func TestPrepareLeavesWhatTheOperatorSuspendedSuspended(t *testing.T) {
	w, f, _ := groupWorld(t)
	w.cloud.Suspend(asgName, "AZRebalance")
	require.NoError(t, f.Prepare(ctxT(t), release))
	require.NotContains(t, w.cloud.Group(asgName).Tags[awsfleet.TagGroupSuspended], "AZRebalance")
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release}))
	require.Equal(t, []string{"AZRebalance"}, w.cloud.Group(asgName).Suspended)
}

func TestPrepareTakesOverFromAReleaseThatNeverFinished(t *testing.T) {
	w, f, _ := groupWorld(t)
	require.NoError(t, f.Prepare(ctxT(t), release))
	canary := launchAttach(t, f, "canary", baseAMI, 1)
	// That release's workflow was terminated: no Finish. The next one prepares.
	next := "release/board/prod/0190c0de-next"
	require.NoError(t, f.Prepare(ctxT(t), next))
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: release}), "the old release no longer holds the group")
	require.Len(t, w.cloud.Group(asgName).Suspended, len(awsfleet.SuspendedProcesses))

	retire(t, f, canary)
	require.NoError(t, f.Finish(ctxT(t), fleet.FinishRequest{Release: next}))
	g := w.cloud.Group(asgName)
	require.Empty(t, g.Suspended)
	require.Equal(t, [3]int{1, 2, 2}, [3]int{g.Min, g.Max, g.Desired}, "restored to before the first release")
}

// The control for the tests above: the fake group is a real opponent.
func TestWithoutPrepareTheGroupFightsTheRelease(t *testing.T) {
	w, f, old := groupWorld(t)
	require.ErrorIs(t, f.Prepare(ctxT(t), ""), fleet.ErrInvalidConfig, "Prepare needs the release key")
	require.True(t, w.cloud.ScaleTo(asgName, 1), "an alarm scales in")
	in, _ := w.cloud.Instance(old[0])
	require.Equal(t, "shutting-down", in.State, "and the oldest instance goes")
}

func TestTerminateRefusesAnotherGroupsInstances(t *testing.T) {
	w, f, _ := groupWorld(t)
	w.cloud.AddGroup("billing-prod", 1, 1, 1, lt)
	other := w.cloud.Group("billing-prod").Members[0]
	err := f.Terminate(ctxT(t), []string{other})
	var nm *awsfleet.NotManagedError
	require.ErrorAs(t, err, &nm)
}
