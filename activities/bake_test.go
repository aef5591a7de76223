package activities_test

import (
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/zerodown/zerodown/activities"
	awsfleet "github.com/zerodown/zerodown/fleet/aws"
	"github.com/zerodown/zerodown/fleet/aws/awstest"
	"github.com/zerodown/zerodown/schemas"
)

const lt = "lt-0123456789abcdef0"

// awsSetup serves the aws provider over awstest, which stands in for AWS (it cannot run
// here), next to the memory fleet.
func awsSetup(t *testing.T) (*testsuite.TestActivityEnvironment, *awstest.Cloud, *activities.Activities, schemas.Spec) {
	cloud := awstest.New()
	url := cloud.Start(t)
	cloud.AddLaunchTemplate(lt, "board-web", "ami-0ba5e00000000000a")
	tg := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/board/0123456789abcdef"
	cloud.AddTargetGroup(tg)
	cloud.AddGroup("board-prod", 1, 2, 2, lt, tg)
	p := awsfleet.NewProvider(awsfleet.Options{Poll: 2 * time.Millisecond, ConfigOptions: []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDZERODOWNTEST", "not-a-secret", "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithRetryer(func() sdkaws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 5 * time.Millisecond })
		}),
	}})
	env, _, acts := setup(t)
	acts.Fleets[schemas.ProviderAWS] = p.Factory
	spec := schemas.Spec{Service: "board", Environment: "prod", Target: schemas.Target{Provider: schemas.ProviderAWS, Instances: 2, AWS: &schemas.AWSSpec{
		Region: "eu-west-1", LaunchTemplate: lt, TargetGroups: []string{tg}, AutoScalingGroup: "board-prod",
		Service: "board", Environment: "prod", Endpoint: url,
	}}}
	return env, cloud, acts, spec
}

func TestBakeDispatchesToTheFleetsBaker(t *testing.T) {
	env, cloud, acts, spec := awsSetup(t)
	spec.Bake = schemas.Bake{Method: schemas.BakeEC2Image, UserData: "#!/bin/sh\necho {{.Version}} > /etc/board-version\n", Timeout: schemas.Duration(time.Minute)}
	v, err := env.ExecuteActivity(acts.Bake, activities.BakeInput{Spec: spec, Version: "v2"})
	require.NoError(t, err)
	var ami string
	require.NoError(t, v.Get(&ami))
	img, ok := cloud.Image(ami)
	require.True(t, ok)
	require.Equal(t, "available", img.State)
}

func TestBakeLongerThanItsTimeoutIsNotRetried(t *testing.T) {
	env, _, acts, spec := awsSetup(t)
	// cloud-config that never powers off: the builder never finishes.
	spec.Bake = schemas.Bake{Method: schemas.BakeEC2Image, UserData: "#cloud-config\n", Timeout: schemas.Duration(50 * time.Millisecond)}
	_, err := env.ExecuteActivity(acts.Bake, activities.BakeInput{Spec: spec, Version: "v2"})
	require.Equal(t, activities.ErrTypeBakeFailed, nonRetryableType(err))
	require.ErrorContains(t, err, "bake.timeout")
}

func TestBakeOnAProviderThatCannotBake(t *testing.T) {
	env, _, acts := setup(t)
	spec := schemas.Spec{Service: "board", Environment: "prod", Target: target, Bake: schemas.Bake{Method: schemas.BakePacker, Template: "x.pkr.hcl"}}
	_, err := env.ExecuteActivity(acts.Bake, activities.BakeInput{Spec: spec, Version: "v2"})
	require.Equal(t, activities.ErrTypeNotSupported, nonRetryableType(err))
}

func TestFleetLifecycleActivities(t *testing.T) {
	env, cloud, acts, spec := awsSetup(t)
	release := "release/board/prod/run1"
	_, err := env.ExecuteActivity(acts.PrepareFleet, activities.PrepareInput{Target: spec.Target, Release: release})
	require.NoError(t, err)
	require.Len(t, cloud.Group("board-prod").Suspended, len(awsfleet.SuspendedProcesses))
	_, err = env.ExecuteActivity(acts.FinishFleet, activities.FinishInput{Target: spec.Target, Release: release, Version: "v2"})
	require.NoError(t, err)
	require.Empty(t, cloud.Group("board-prod").Suspended)

	// Fleets with nothing to prepare accept both.
	_, err = env.ExecuteActivity(acts.PrepareFleet, activities.PrepareInput{Target: target, Release: release})
	require.NoError(t, err)
	_, err = env.ExecuteActivity(acts.FinishFleet, activities.FinishInput{Target: target, Release: release, Succeeded: true})
	require.NoError(t, err)

	// A fleet the worker does not serve is a configuration error, not retried.
	_, err = env.ExecuteActivity(acts.FinishFleet, activities.FinishInput{Target: schemas.Target{Provider: "gcp"}, Release: release})
	require.Equal(t, activities.ErrTypeInvalidConfig, nonRetryableType(err))
}
