package aws

import (
	"context"
	"fmt"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/zerodown/zerodown/fleet"
)

// Launch starts req.Count instances from the launch template with the release's AMI,
// spread over the spec's subnets, tagged so the fleet finds them again. RunInstances
// carries a ClientToken derived from req.Key, so a retried launch (a worker that
// crashed after launching but before recording it) gets the same instances back from
// EC2 instead of new ones. Launch does not wait: WaitHealthy does.
func (f *Fleet) Launch(ctx context.Context, req fleet.LaunchRequest) ([]fleet.Instance, error) {
	if req.Count <= 0 {
		return nil, nil
	}
	if req.Key == "" {
		return nil, fmt.Errorf("%w: a launch needs an idempotency key", fleet.ErrInvalidConfig)
	}
	image, err := f.resolveImage(ctx, req.Image, req.Version)
	if err != nil {
		return nil, err
	}
	subnets := f.spec.Subnets
	if len(subnets) == 0 {
		subnets = []string{""} // the launch template's network settings
	}
	counts := spread(req.Count, len(subnets))
	var out []fleet.Instance
	for i, subnet := range subnets {
		if counts[i] == 0 {
			continue
		}
		// One RunInstances per subnet, each with its own token: a retry repeats every
		// call and EC2 answers each with the instances it already started.
		token := ClientToken(req.Key)
		if len(subnets) > 1 {
			token = ClientToken(req.Key + "#" + subnet)
		}
		in := &ec2.RunInstancesInput{
			MinCount:          sdkaws.Int32(int32(counts[i])),
			MaxCount:          sdkaws.Int32(int32(counts[i])),
			ClientToken:       sdkaws.String(token),
			LaunchTemplate:    f.launchTemplate(),
			TagSpecifications: f.tagSpecs(req),
		}
		if image != "" {
			in.ImageId = sdkaws.String(image)
		}
		if subnet != "" {
			in.SubnetId = sdkaws.String(subnet)
		}
		res, err := f.ec2.RunInstances(ctx, in)
		if err != nil {
			if apiCode(err) == "IdempotentParameterMismatch" {
				return nil, fmt.Errorf("%w: launch key %s was already used for a different launch: %v", fleet.ErrInvalidConfig, req.Key, err)
			}
			return nil, fmt.Errorf("run instances (%d x %s): %w", counts[i], req.Version, err)
		}
		for _, inst := range res.Instances {
			fi := f.instance(inst, &view{})
			fi.Version = req.Version
			fi.LaunchKey = req.Key
			out = append(out, fi)
		}
	}
	return out, nil
}

// spread divides n instances over k subnets as evenly as possible.
func spread(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

func (f *Fleet) launchTemplate() *ec2types.LaunchTemplateSpecification {
	lt := &ec2types.LaunchTemplateSpecification{Version: sdkaws.String(f.spec.LaunchTemplateVersion)}
	if strings.HasPrefix(f.spec.LaunchTemplate, "lt-") {
		lt.LaunchTemplateId = sdkaws.String(f.spec.LaunchTemplate)
	} else {
		lt.LaunchTemplateName = sdkaws.String(f.spec.LaunchTemplate)
	}
	return lt
}

func (f *Fleet) tagSpecs(req fleet.LaunchRequest) []ec2types.TagSpecification {
	tags := []ec2types.Tag{
		{Key: sdkaws.String("Name"), Value: sdkaws.String(f.spec.Service + "-" + f.spec.Environment + "-" + req.Version)},
		{Key: sdkaws.String(TagService), Value: sdkaws.String(f.spec.Service)},
		{Key: sdkaws.String(TagEnvironment), Value: sdkaws.String(f.spec.Environment)},
		{Key: sdkaws.String(TagVersion), Value: sdkaws.String(req.Version)},
		{Key: sdkaws.String(TagReleaseKey), Value: sdkaws.String(req.Key)},
	}
	return []ec2types.TagSpecification{
		{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
		{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
	}
}

// resolveImage names the AMI a version runs from: the baked image when there is one;
// a version that is itself an AMI (an instance the Auto Scaling group launched before
// zerodown, relaunched by a rollback); else an AMI baked earlier for this service and
// version; else "" — the launch template's own AMI (bake.method none: the template's
// image runs whatever version its instance is tagged with).
func (f *Fleet) resolveImage(ctx context.Context, image, version string) (string, error) {
	switch {
	case strings.HasPrefix(image, "ami-"):
		return image, nil
	case strings.HasPrefix(version, "ami-"):
		return version, nil
	}
	img, err := f.findImage(ctx, f.spec.Service, version)
	if err != nil {
		return "", err
	}
	if img != nil && img.State == ec2types.ImageStateAvailable {
		return sdkaws.ToString(img.ImageId), nil
	}
	return "", nil
}

// findImage returns the newest usable AMI tagged for service and version, or nil.
func (f *Fleet) findImage(ctx context.Context, service, version string) (*ec2types.Image, error) {
	var best *ec2types.Image
	p := ec2.NewDescribeImagesPaginator(f.ec2, &ec2.DescribeImagesInput{
		Owners: []string{"self"},
		Filters: []ec2types.Filter{
			{Name: sdkaws.String("tag:" + TagService), Values: []string{service}},
			{Name: sdkaws.String("tag:" + TagVersion), Values: []string{version}},
			{Name: sdkaws.String("state"), Values: []string{"available", "pending"}},
		},
		MaxResults: sdkaws.Int32(100),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe images: %w", err)
		}
		for i := range page.Images {
			img := page.Images[i]
			if best == nil || sdkaws.ToString(img.CreationDate) > sdkaws.ToString(best.CreationDate) {
				best = &img
			}
		}
	}
	return best, nil
}

// WaitHealthy waits until the instances are running and pass their EC2 status checks,
// then, for those already registered with a target group, until the target group's
// health checks pass. New instances are not registered yet — that would send them
// traffic before the preTraffic hooks ran — so for them Attach waits for the target
// group's verdict. It asks about maxIDsPerCall instances per call. An instance that
// died (stopping, stopped, terminated) or whose status checks are impaired ends the
// wait at once; throttling and AWS's own failures are retried until ctx ends.
func (f *Fleet) WaitHealthy(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	what := fmt.Sprintf("%d instance(s) to run and pass EC2 status checks", len(ids))
	err := f.waitFor(ctx, what, func(ctx context.Context) ([]string, error) { return f.notBooted(ctx, ids) })
	if err != nil {
		return err
	}
	return f.waitTargets(ctx, ids, nil)
}

// notBooted lists the instances not yet running with passing status checks, and fails
// if one never will.
func (f *Fleet) notBooted(ctx context.Context, ids []string) ([]string, error) {
	insts, err := f.instancesByID(ctx, ids, nil)
	if err != nil {
		return nil, err
	}
	byID := map[string]ec2types.Instance{}
	var running, dead []string
	for _, in := range insts {
		id := sdkaws.ToString(in.InstanceId)
		byID[id] = in
		switch stateOf(in) {
		case ec2types.InstanceStateNameRunning:
			running = append(running, id)
		case ec2types.InstanceStateNamePending:
		default:
			s := id + " is " + string(stateOf(in))
			if r := in.StateReason; r != nil && r.Message != nil {
				s += " (" + *r.Message + ")"
			}
			dead = append(dead, s)
		}
	}
	if len(dead) > 0 {
		return nil, fmt.Errorf("instances will never be healthy: %s", listed(dead))
	}
	checks, err := f.statusChecks(ctx, running)
	if err != nil {
		return nil, err
	}
	var pending, impaired []string
	for _, id := range ids {
		in, known := byID[id]
		switch {
		case !known:
			pending = append(pending, id+" not yet known to EC2")
		case stateOf(in) != ec2types.InstanceStateNameRunning:
			pending = append(pending, id+" "+string(stateOf(in)))
		default:
			s := checks[id]
			inst, sys := summaryStatus(s.InstanceStatus), summaryStatus(s.SystemStatus)
			switch {
			case inst == ec2types.SummaryStatusImpaired || sys == ec2types.SummaryStatusImpaired:
				impaired = append(impaired, fmt.Sprintf("%s (instance check %s, system check %s)", id, inst, sys))
			case inst != ec2types.SummaryStatusOk:
				pending = append(pending, fmt.Sprintf("%s status checks %s", id, orDefault(string(inst), "not reported yet")))
			}
		}
	}
	if len(impaired) > 0 {
		return nil, fmt.Errorf("instances failed their EC2 status checks: %s", listed(impaired))
	}
	return pending, nil
}

func stateOf(in ec2types.Instance) ec2types.InstanceStateName {
	if in.State == nil {
		return ""
	}
	return in.State.Name
}

func summaryStatus(s *ec2types.InstanceStatusSummary) ec2types.SummaryStatus {
	if s == nil {
		return ""
	}
	return s.Status
}
