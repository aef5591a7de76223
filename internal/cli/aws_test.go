package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet/aws/awstest"
	"github.com/zerodown/zerodown/internal/cli"
)

// `zerodown plan` on an aws spec describes the fleet through the worker's own aws
// provider (the standard credential chain, here from the environment) and prints the
// API calls the release would make. awstest stands in for AWS, which cannot run here.
func TestPlanPrintsTheAWSCalls(t *testing.T) {
	cloud := awstest.New()
	url := cloud.Start(t)
	tg := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/board-prod/6d0ecf831eec9f09"
	cloud.AddTargetGroup(tg)
	for range 3 {
		id := cloud.AddInstance("ami-0001d0000000000001", map[string]string{"zerodown:service": "board", "zerodown:environment": "prod", "zerodown:version": "v1"})
		cloud.Register(tg, id)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDZERODOWNTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	spec := filepath.Join(t.TempDir(), "board.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`service: board
environment: prod
target:
  provider: aws
  instances: 3
  aws:
    region: eu-west-1
    launchTemplate: lt-0abc1234def567890
    targetGroups: [`+tg+`]
    endpoint: `+url+`
canary: { instances: 1, soak: 1h }
promote: { batch: "2" }
`), 0o644))

	r := zerodown(t, nil, "plan", "-f", spec, "--version", "v2")
	require.Equal(t, cli.ExitSucceeded, r.code)
	require.Empty(t, r.stderr, "the fleet was described")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Equal(t, "plan: board/prod v1 -> v2 on aws, 3 old instance(s) serving, 3 wanted", lines[0])
	require.Contains(t, r.stdout, "aws: API calls in eu-west-1, on instances tagged zerodown:service=board zerodown:environment=prod:\n")
	require.Contains(t, r.stdout, "  canary:    launch 1\n")
	require.Contains(t, r.stdout, "  batch 1/1: launch 2, then detach 3 old\n")
	require.Contains(t, r.stdout, "ec2:TerminateInstances (3 old)")
	require.NotContains(t, r.stdout, "autoscaling:", "no Auto Scaling group, nothing to hold")
	for _, op := range cloud.Calls() {
		require.True(t, strings.Contains(op, ":Describe"), "plan only reads: %s", op)
	}
}
