package aws

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/zerodown/zerodown/fleet"
)

// liveStates are the instance states of a fleet member; shutting-down and terminated
// instances are gone as far as a release is concerned.
var liveStates = []string{"pending", "running", "stopping", "stopped"}

// view is the fleet as AWS sees it at one moment.
type view struct {
	instances []ec2types.Instance
	// status is each running instance's EC2 status check ("ok", "initializing", ...).
	status map[string]string
	// health is each target group's registered targets and their state.
	health map[string]map[string]elbtypes.TargetHealth
	group  *asgtypes.AutoScalingGroup
	rule   *elbtypes.Rule
}

// Describe lists the fleet: instances tagged for this service and environment, plus the
// members of its Auto Scaling group (which may predate zerodown), with their health and
// load balancer membership. AWS does not count a target's connections: a draining
// instance reports one open connection until its target group lets it go.
func (f *Fleet) Describe(ctx context.Context) (fleet.State, error) {
	v, err := f.look(ctx)
	if err != nil {
		return fleet.State{}, err
	}
	st := fleet.State{Instances: make([]fleet.Instance, 0, len(v.instances))}
	for _, in := range v.instances {
		st.Instances = append(st.Instances, f.instance(in, v))
	}
	if v.rule != nil {
		st.Weights = f.weights(v, st)
	}
	return st, nil
}

func (f *Fleet) look(ctx context.Context) (*view, error) {
	v := &view{status: map[string]string{}, health: map[string]map[string]elbtypes.TargetHealth{}}
	insts, err := f.describeInstances(ctx, []ec2types.Filter{
		{Name: sdkaws.String("tag:" + TagService), Values: []string{f.spec.Service}},
		{Name: sdkaws.String("tag:" + TagEnvironment), Values: []string{f.spec.Environment}},
		{Name: sdkaws.String("instance-state-name"), Values: liveStates},
	})
	if err != nil {
		return nil, err
	}
	// Builders are tagged for the service so they can be found again, but they are not
	// part of the fleet.
	insts = slices.DeleteFunc(insts, func(in ec2types.Instance) bool { return tagOf(in.Tags, TagRole) == RoleBuilder })
	if f.spec.AutoScalingGroup != "" {
		if v.group, err = f.describeGroup(ctx); err != nil {
			return nil, err
		}
		var extra []string
		for _, m := range v.group.Instances {
			id := sdkaws.ToString(m.InstanceId)
			if !slices.ContainsFunc(insts, func(in ec2types.Instance) bool { return sdkaws.ToString(in.InstanceId) == id }) {
				extra = append(extra, id)
			}
		}
		more, err := f.instancesByID(ctx, extra, liveStates)
		if err != nil {
			return nil, err
		}
		insts = append(insts, more...)
	}
	slices.SortFunc(insts, func(a, b ec2types.Instance) int {
		if c := sdkaws.ToTime(a.LaunchTime).Compare(sdkaws.ToTime(b.LaunchTime)); c != 0 {
			return c
		}
		return cmp.Compare(sdkaws.ToString(a.InstanceId), sdkaws.ToString(b.InstanceId))
	})
	v.instances = insts

	var running []string
	for _, in := range insts {
		if in.State != nil && in.State.Name == ec2types.InstanceStateNameRunning {
			running = append(running, sdkaws.ToString(in.InstanceId))
		}
	}
	checks, err := f.statusChecks(ctx, running)
	if err != nil {
		return nil, err
	}
	for id, s := range checks {
		if s.InstanceStatus != nil {
			v.status[id] = string(s.InstanceStatus.Status)
		}
	}
	for _, tg := range f.targetGroups() {
		if v.health[tg], err = f.targetHealth(ctx, tg); err != nil {
			return nil, err
		}
	}
	if f.spec.ListenerRuleArn != "" {
		if v.rule, err = f.describeRule(ctx); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// instance turns an EC2 instance into the fleet's view of it.
func (f *Fleet) instance(in ec2types.Instance, v *view) fleet.Instance {
	id := sdkaws.ToString(in.InstanceId)
	version := tagOf(in.Tags, TagVersion)
	if version == "" {
		// An instance the Auto Scaling group launched before zerodown: its AMI is the
		// best name of what it runs, and relaunching "that version" means that AMI.
		version = sdkaws.ToString(in.ImageId)
	}
	out := fleet.Instance{ID: id, Version: version, LaunchKey: tagOf(in.Tags, TagReleaseKey)}
	if ip := sdkaws.ToString(in.PrivateIpAddress); ip != "" {
		out.Address = ip + ":" + strconv.Itoa(f.spec.Port)
	}
	running := in.State != nil && in.State.Name == ec2types.InstanceStateNameRunning
	registered, draining, healthy := 0, 0, 0
	for _, tg := range f.targetGroups() {
		th, ok := v.health[tg][id]
		if !ok {
			continue
		}
		switch th.State {
		case elbtypes.TargetHealthStateEnumDraining:
			draining++
		case elbtypes.TargetHealthStateEnumHealthy:
			registered++
			healthy++
		default:
			registered++
			if notInUse(th) {
				healthy++ // no listener sends it traffic, so no check runs: nothing to wait for
			}
		}
	}
	switch {
	case registered > 0:
		out.Attached = true
		out.Healthy = running && healthy == registered
	case len(f.targetGroups()) == 0 && v.group != nil:
		out.Attached = inGroup(v.group, id)
		out.Healthy = running && v.status[id] == "ok"
	default:
		out.Healthy = running && v.status[id] == "ok"
	}
	if draining > 0 && !out.Attached {
		out.Draining = true
		out.Connections = 1
	}
	return out
}

// weights reads the per-version traffic share off the weighted listener rule: each
// target group's weight, split among the versions of the instances it holds.
func (f *Fleet) weights(v *view, st fleet.State) map[string]int {
	tgWeights := forwardWeights(v.rule)
	share := map[string]float64{}
	total := 0.0
	for _, tg := range []string{f.stableGroup(), f.spec.CanaryTargetGroup} {
		w := float64(tgWeights[tg])
		if w == 0 {
			continue
		}
		per := map[string]int{}
		n := 0
		for _, in := range st.Instances {
			if th, ok := v.health[tg][in.ID]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
				per[in.Version]++
				n++
			}
		}
		for ver, c := range per {
			share[ver] += w * float64(c) / float64(n)
		}
		if n > 0 {
			total += w
		}
	}
	out := map[string]int{}
	if total == 0 {
		return out
	}
	for _, ver := range slices.Sorted(maps.Keys(share)) {
		out[ver] = int(share[ver]*100/total + 0.5)
	}
	return out
}

func notInUse(th elbtypes.TargetHealth) bool {
	return th.State == elbtypes.TargetHealthStateEnumUnused && th.Reason == elbtypes.TargetHealthReasonEnumNotInUse
}

func inGroup(g *asgtypes.AutoScalingGroup, id string) bool {
	return slices.ContainsFunc(g.Instances, func(m asgtypes.Instance) bool { return sdkaws.ToString(m.InstanceId) == id })
}

func tagOf(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if sdkaws.ToString(t.Key) == key {
			return sdkaws.ToString(t.Value)
		}
	}
	return ""
}

// describeInstances follows every page of a filtered DescribeInstances, and refuses
// an answer holding an instance the filters exclude (see UnexpectedAnswerError).
func (f *Fleet) describeInstances(ctx context.Context, filters []ec2types.Filter) ([]ec2types.Instance, error) {
	var out []ec2types.Instance
	p := ec2.NewDescribeInstancesPaginator(f.ec2, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: sdkaws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	if err := checkInstances(filters, out); err != nil {
		return nil, err
	}
	return out, nil
}

// instancesByID describes the given instances in the given states, maxIDsPerCall at a
// time. It filters by ID rather than naming them, so an instance that no longer exists
// is simply absent instead of failing the whole call.
func (f *Fleet) instancesByID(ctx context.Context, ids []string, states []string) ([]ec2types.Instance, error) {
	var out []ec2types.Instance
	for _, c := range chunks(ids, maxIDsPerCall) {
		filters := []ec2types.Filter{{Name: sdkaws.String("instance-id"), Values: c}}
		if len(states) > 0 {
			filters = append(filters, ec2types.Filter{Name: sdkaws.String("instance-state-name"), Values: states})
		}
		got, err := f.describeInstances(ctx, filters)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// statusChecks returns the EC2 status checks of the given running instances,
// maxIDsPerCall at a time (DescribeInstanceStatus takes at most 100 IDs).
func (f *Fleet) statusChecks(ctx context.Context, ids []string) (map[string]ec2types.InstanceStatus, error) {
	out := map[string]ec2types.InstanceStatus{}
	for _, c := range chunks(ids, maxIDsPerCall) {
		if err := f.statusChunk(ctx, c, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// statusChunk asks for the status of at most maxIDsPerCall instances, refusing an
// answer about instances it did not ask for.
func (f *Fleet) statusChunk(ctx context.Context, ids []string, out map[string]ec2types.InstanceStatus) error {
	res, err := f.ec2.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: ids})
	if err != nil {
		if apiCode(err) == "InvalidInstanceID.NotFound" {
			return nil // one of them terminated meanwhile, or not yet visible: no status this time
		}
		return fmt.Errorf("describe instance status: %w", err)
	}
	got := make([]string, 0, len(res.InstanceStatuses))
	for _, s := range res.InstanceStatuses {
		got = append(got, sdkaws.ToString(s.InstanceId))
	}
	if err := checkIDs("EC2 DescribeInstanceStatus", ids, got); err != nil {
		return err
	}
	for _, s := range res.InstanceStatuses {
		out[sdkaws.ToString(s.InstanceId)] = s
	}
	return nil
}

// targetHealth lists a target group's registered targets (draining ones included);
// a target that is not registered is absent.
func (f *Fleet) targetHealth(ctx context.Context, tg string) (map[string]elbtypes.TargetHealth, error) {
	res, err := f.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: sdkaws.String(tg)})
	if err != nil {
		if apiCode(err) == "TargetGroupNotFound" {
			return nil, fmt.Errorf("%w: target group %s does not exist", fleet.ErrInvalidConfig, tg)
		}
		return nil, fmt.Errorf("describe target health of %s: %w", tg, err)
	}
	out := map[string]elbtypes.TargetHealth{}
	for _, d := range res.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		th := elbtypes.TargetHealth{}
		if d.TargetHealth != nil {
			th = *d.TargetHealth
		}
		out[sdkaws.ToString(d.Target.Id)] = th
	}
	return out, nil
}

func (f *Fleet) describeGroup(ctx context.Context) (*asgtypes.AutoScalingGroup, error) {
	res, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.spec.AutoScalingGroup}})
	if err != nil {
		return nil, fmt.Errorf("describe auto scaling group %s: %w", f.spec.AutoScalingGroup, err)
	}
	for i := range res.AutoScalingGroups {
		if sdkaws.ToString(res.AutoScalingGroups[i].AutoScalingGroupName) == f.spec.AutoScalingGroup {
			return &res.AutoScalingGroups[i], nil
		}
	}
	return nil, fmt.Errorf("%w: auto scaling group %s does not exist", fleet.ErrInvalidConfig, f.spec.AutoScalingGroup)
}

func (f *Fleet) describeRule(ctx context.Context) (*elbtypes.Rule, error) {
	res, err := f.elb.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{f.spec.ListenerRuleArn}})
	if err != nil {
		if apiCode(err) == "RuleNotFound" {
			return nil, fmt.Errorf("%w: listener rule %s does not exist", fleet.ErrInvalidConfig, f.spec.ListenerRuleArn)
		}
		return nil, fmt.Errorf("describe listener rule: %w", err)
	}
	if len(res.Rules) == 0 {
		return nil, fmt.Errorf("%w: listener rule %s does not exist", fleet.ErrInvalidConfig, f.spec.ListenerRuleArn)
	}
	return &res.Rules[0], nil
}

// forwardWeights reads target group weights off a rule's forward action.
func forwardWeights(r *elbtypes.Rule) map[string]int {
	out := map[string]int{}
	for _, a := range r.Actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, t := range a.ForwardConfig.TargetGroups {
				out[sdkaws.ToString(t.TargetGroupArn)] = int(sdkaws.ToInt32(t.Weight))
			}
		} else if a.TargetGroupArn != nil {
			out[*a.TargetGroupArn] = 1
		}
	}
	return out
}
