package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"text/template"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Bake returns the AMI of req.Version. An AMI already tagged for this service and
// version is reused — from any environment, so the image staging tested is the one prod
// runs, and a retried bake finds the image its first attempt made. Otherwise it is
// built with bake.method ec2-image or packer, and tagged for the next time.
func (f *Fleet) Bake(ctx context.Context, req fleet.BakeRequest) (string, error) {
	// The fleet's tag name, not the spec's service: Launch looks images up by it.
	service := f.spec.Service
	if req.Version == "" {
		return "", fmt.Errorf("%w: a bake needs a version", fleet.ErrInvalidConfig)
	}
	img, err := f.findImage(ctx, service, req.Version)
	if err != nil {
		return "", err
	}
	if img != nil {
		id := sdkaws.ToString(img.ImageId)
		if img.State == ec2types.ImageStateAvailable {
			fleet.Progress(ctx, "reusing "+id)
			return id, nil
		}
		// Pending: a crashed attempt of this bake, or another environment's, is
		// making it; wait for that one rather than make a second.
		return id, f.waitImage(ctx, id)
	}
	switch req.Bake.Method {
	case schemas.BakeEC2Image:
		return f.bakeEC2Image(ctx, service, req)
	case schemas.BakePacker:
		return f.bakePacker(ctx, service, req)
	default:
		return "", fmt.Errorf("%w: bake.method %q is not one the aws provider bakes (ec2-image, packer)", fleet.ErrInvalidConfig, req.Bake.Method)
	}
}

// bakeEC2Image starts a builder from the base image with the user data, waits for it to
// power itself off (the user data's last step), images it and terminates it.
func (f *Fleet) bakeEC2Image(ctx context.Context, service string, req fleet.BakeRequest) (string, error) {
	userData, err := renderUserData(req.Bake.UserData, service, req.Version)
	if err != nil {
		return "", err
	}
	id, err := f.builder(ctx, service, req, userData)
	if err != nil {
		return "", err
	}
	defer func() {
		// Whatever happened, the builder has served its purpose. Terminate it even if
		// ctx ended (a bake timeout): a leaked builder costs money and a retry makes a
		// new one.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = f.ec2.TerminateInstances(tctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	}()
	if err := f.waitBuilderStopped(ctx, id); err != nil {
		return "", err
	}
	image, err := f.createImage(ctx, id, service, req.Version)
	if err != nil {
		return "", err
	}
	return image, f.waitImage(ctx, image)
}

// builder finds this bake's builder or starts it. A worker that crashed mid-bake finds
// its builder again by its tags; RunInstances' client token covers the moment between
// launch and tagging. A token whose builder is already terminated (a failed earlier
// bake) is spent, so the next generation's token is tried.
func (f *Fleet) builder(ctx context.Context, service string, req fleet.BakeRequest, userData string) (string, error) {
	live, err := f.describeInstances(ctx, []ec2types.Filter{
		{Name: sdkaws.String("tag:" + TagRole), Values: []string{RoleBuilder}},
		{Name: sdkaws.String("tag:" + TagService), Values: []string{service}},
		{Name: sdkaws.String("tag:" + TagVersion), Values: []string{req.Version}},
		{Name: sdkaws.String("instance-state-name"), Values: liveStates},
	})
	if err != nil {
		return "", err
	}
	if len(live) > 0 {
		return sdkaws.ToString(live[0].InstanceId), nil
	}
	tags := []ec2types.Tag{
		{Key: sdkaws.String("Name"), Value: sdkaws.String("zerodown-bake-" + service + "-" + req.Version)},
		{Key: sdkaws.String(TagService), Value: sdkaws.String(service)},
		{Key: sdkaws.String(TagVersion), Value: sdkaws.String(req.Version)},
		{Key: sdkaws.String(TagRole), Value: sdkaws.String(RoleBuilder)},
	}
	for gen := range 5 {
		in := &ec2.RunInstancesInput{
			MinCount:       sdkaws.Int32(1),
			MaxCount:       sdkaws.Int32(1),
			ClientToken:    sdkaws.String(ClientToken(fmt.Sprintf("bake/%s/%s/%d", service, req.Version, gen))),
			LaunchTemplate: f.launchTemplate(),
			UserData:       sdkaws.String(base64.StdEncoding.EncodeToString([]byte(userData))),
			// The user data ends by powering off: stopped, not terminated, so the
			// disk can be imaged in a consistent state.
			InstanceInitiatedShutdownBehavior: ec2types.ShutdownBehaviorStop,
			TagSpecifications: []ec2types.TagSpecification{
				{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
				{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
			},
		}
		if req.Bake.BaseImage != "" {
			in.ImageId = sdkaws.String(req.Bake.BaseImage)
		}
		if len(f.spec.Subnets) > 0 {
			in.SubnetId = sdkaws.String(f.spec.Subnets[0])
		}
		res, err := f.ec2.RunInstances(ctx, in)
		if err != nil {
			return "", fmt.Errorf("start the image builder: %w", err)
		}
		if len(res.Instances) == 0 {
			return "", fmt.Errorf("start the image builder: EC2 returned no instance")
		}
		id := sdkaws.ToString(res.Instances[0].InstanceId)
		alive, err := f.instancesByID(ctx, []string{id}, liveStates)
		if err != nil {
			return "", err
		}
		if len(alive) > 0 {
			fleet.Progress(ctx, "builder "+id+" started")
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: five image builders for %s %s were terminated before finishing", fleet.ErrBakeFailed, service, req.Version)
}

// waitBuilderStopped polls until the builder has powered itself off. It cannot use
// the SDK's InstanceStopped waiter, which gives up on a "pending" instance — and a
// builder starts as one.
func (f *Fleet) waitBuilderStopped(ctx context.Context, id string) error {
	start := time.Now()
	for {
		insts, err := f.instancesByID(ctx, []string{id}, nil)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("builder %s never powered off (the user data must end by shutting down): %w", id, ctx.Err())
			}
			return err
		}
		state := ec2types.InstanceStateNameTerminated
		if len(insts) > 0 && insts[0].State != nil {
			state = insts[0].State.Name
		}
		switch state {
		case ec2types.InstanceStateNameStopped:
			return nil
		case ec2types.InstanceStateNameShuttingDown, ec2types.InstanceStateNameTerminated:
			return fmt.Errorf("%w: builder %s was terminated before its user data finished", fleet.ErrBakeFailed, id)
		}
		fleet.Progress(ctx, fmt.Sprintf("builder %s %s for %s: running its user data until it powers off", id, state, time.Since(start).Round(time.Second)))
		if err := f.sleep(ctx); err != nil {
			return fmt.Errorf("builder %s never powered off (the user data must end by shutting down): %w", id, err)
		}
	}
}

// createImage images the stopped builder, tagged so the next release of this version
// reuses it. CreateImage takes no client token; a retry meets the name it already used
// and carries on with that image.
func (f *Fleet) createImage(ctx context.Context, builder, service, version string) (string, error) {
	name := imageName(service, version)
	tags := imageTags(service, version, schemas.BakeEC2Image)
	res, err := f.ec2.CreateImage(ctx, &ec2.CreateImageInput{
		InstanceId:  sdkaws.String(builder),
		Name:        sdkaws.String(name),
		Description: sdkaws.String(fmt.Sprintf("%s %s, baked by zerodown", service, version)),
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeImage, Tags: tags},
			{ResourceType: ec2types.ResourceTypeSnapshot, Tags: tags},
		},
	})
	if err == nil {
		return sdkaws.ToString(res.ImageId), nil
	}
	if apiCode(err) != "InvalidAMIName.Duplicate" {
		return "", fmt.Errorf("create image of %s: %w", builder, err)
	}
	out, derr := f.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: sdkaws.String("name"), Values: []string{name}}},
	})
	if derr != nil || len(out.Images) == 0 {
		return "", fmt.Errorf("create image of %s: %w", builder, err)
	}
	return sdkaws.ToString(out.Images[0].ImageId), nil
}

// waitImage waits for an AMI to become available (the SDK's waiter).
func (f *Fleet) waitImage(ctx context.Context, id string) error {
	w := ec2.NewImageAvailableWaiter(f.ec2, func(o *ec2.ImageAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = f.poll, 4*f.poll
	})
	start := time.Now()
	err := f.during(ctx, func() string {
		return fmt.Sprintf("image %s pending for %s", id, time.Since(start).Round(time.Second))
	}, func(ctx context.Context) error {
		return w.Wait(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}}, maxWait(ctx))
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for image %s: %w", id, ctx.Err())
	}
	// The waiter stops on an image that failed; say why, if EC2 says.
	out, derr := f.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if derr == nil && len(out.Images) > 0 && out.Images[0].State == ec2types.ImageStateFailed {
		why := ""
		if r := out.Images[0].StateReason; r != nil && r.Message != nil {
			why = " (" + *r.Message + ")"
		}
		return fmt.Errorf("%w: image %s failed%s; deregister it to bake this version again", fleet.ErrBakeFailed, id, why)
	}
	return fmt.Errorf("waiting for image %s: %w", id, err)
}

func imageTags(service, version, method string) []ec2types.Tag {
	return []ec2types.Tag{
		{Key: sdkaws.String("Name"), Value: sdkaws.String(imageName(service, version))},
		{Key: sdkaws.String(TagService), Value: sdkaws.String(service)},
		{Key: sdkaws.String(TagVersion), Value: sdkaws.String(version)},
		{Key: sdkaws.String(TagBakedBy), Value: sdkaws.String(method)},
	}
}

// imageName is the AMI name for a service's version, in the characters AMI names allow.
func imageName(service, version string) string {
	name := []rune("zerodown-" + service + "-" + version)
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("()[] ./-'@_", r)
		if !ok {
			name[i] = '-'
		}
	}
	if len(name) > 128 {
		name = name[:128]
	}
	return string(name)
}

// renderUserData fills {{.Version}} and {{.Service}} in the user data. A shell script
// gets a last line that powers the builder off, which is how zerodown knows it is done;
// other formats (cloud-config) must power off themselves.
func renderUserData(text, service, version string) (string, error) {
	t, err := template.New("bake.userData").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%w: bake.userData: %v", fleet.ErrInvalidConfig, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, struct{ Service, Version string }{service, version}); err != nil {
		return "", fmt.Errorf("%w: bake.userData: %v", fleet.ErrInvalidConfig, err)
	}
	s := b.String()
	if strings.TrimSpace(s) == "" {
		s = "#!/bin/sh\n"
	}
	if strings.HasPrefix(s, "#!") {
		s = strings.TrimRight(s, "\n") + "\n# Added by zerodown: the image is taken once the builder has stopped.\nshutdown -h now\n"
	}
	return s, nil
}
