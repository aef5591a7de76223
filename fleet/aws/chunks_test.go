package aws_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
)

// A batch larger than one call may name: the stand-in refuses a DescribeInstanceStatus
// of more than 100 IDs, as AWS does, so a provider that sent all 150 at once would fail
// the wait (and roll the release back).
func TestA150InstanceBatchIsDescribedWaitedForAndTerminatedInChunksOf100(t *testing.T) {
	w := newWorld(t)
	w.cloud.PageSize = 100 // AWS pages by up to 1000; two per page would only slow the test
	f := w.fleet(t)
	out, err := f.Launch(ctxT(t), fleet.LaunchRequest{Key: key, Version: "v2", Image: "ami-0000000000000v2a", Count: 150})
	require.NoError(t, err)
	require.Len(t, out, 150)

	require.NoError(t, f.WaitHealthy(ctxT(t), ids(out)))
	require.NoError(t, f.Attach(ctxT(t), ids(out)))
	for _, id := range ids(out) {
		require.Equal(t, "healthy", w.cloud.TargetState(blueTG, id))
	}
	st, err := f.Describe(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"v2": 150}, st.ByVersion())
	for _, in := range st.Instances {
		require.True(t, in.Healthy && in.Attached, in.ID)
	}

	require.NoError(t, f.Terminate(ctxT(t), ids(out)))
	for _, id := range ids(out) {
		in, _ := w.cloud.Instance(id)
		require.Equal(t, "shutting-down", in.State, id)
	}

	calls := w.cloud.Calls()
	require.Equal(t, 100, w.cloud.MaxIDs("ec2:DescribeInstanceStatus"), "full chunks of 100, never more")
	require.Equal(t, 100, w.cloud.MaxIDs("ec2:DescribeInstances"))
	require.Equal(t, 100, w.cloud.MaxIDs("ec2:TerminateInstances"))
	require.Equal(t, 2, count(calls, "ec2:TerminateInstances"), "150 instances: 100, then 50")
}
