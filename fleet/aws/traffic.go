package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/zerodown/zerodown/fleet"
)

// Attach puts instances in service: into the Auto Scaling group (if any), then
// registered with the target groups, and returns once the load balancer's health checks
// pass. An ALB sends no traffic to a target still in "initial", so returning earlier
// would let the release detach old instances before their replacements serve.
// Registering is idempotent, so a retried Attach just keeps waiting.
//
// With a weighted listener rule, an instance whose version the canary target group
// serves joins the canary group instead of the stable one.
func (f *Fleet) Attach(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	v, err := f.look(ctx)
	if err != nil {
		return err
	}
	byID := map[string]ec2types.Instance{}
	for _, in := range v.instances {
		byID[sdkaws.ToString(in.InstanceId)] = in
	}
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			return fmt.Errorf("%w: %s is not an instance of %s", fleet.ErrNotFound, id, f.who())
		}
	}
	if v.group != nil {
		if err := f.groupAttach(ctx, v.group, ids); err != nil {
			return err
		}
	}
	want := map[string][]string{}
	for _, id := range ids {
		tgs := f.spec.TargetGroups
		if f.spec.CanaryTargetGroup != "" && f.canaryServes(v, versionOf(byID[id])) {
			tgs = append([]string{f.spec.CanaryTargetGroup}, f.spec.TargetGroups[1:]...)
		}
		for _, tg := range tgs {
			want[tg] = append(want[tg], id)
		}
	}
	if err := f.register(ctx, v, want); err != nil {
		return err
	}
	return f.waitTargets(ctx, ids, want)
}

// canaryServes says whether the canary target group holds attached instances of version.
func (f *Fleet) canaryServes(v *view, version string) bool {
	h := v.health[f.spec.CanaryTargetGroup]
	for _, in := range v.instances {
		if th, ok := h[sdkaws.ToString(in.InstanceId)]; ok && th.State != elbtypes.TargetHealthStateEnumDraining && versionOf(in) == version {
			return true
		}
	}
	return false
}

func versionOf(in ec2types.Instance) string {
	if v := tagOf(in.Tags, TagVersion); v != "" {
		return v
	}
	return sdkaws.ToString(in.ImageId)
}

// register registers each target group's instances that are not registered yet (a
// draining one is registered again: a rollback takes it back).
func (f *Fleet) register(ctx context.Context, v *view, want map[string][]string) error {
	for _, tg := range slices.Sorted(maps.Keys(want)) {
		var targets []elbtypes.TargetDescription
		for _, id := range want[tg] {
			if th, ok := v.health[tg][id]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
				continue
			}
			targets = append(targets, elbtypes.TargetDescription{Id: sdkaws.String(id)})
		}
		if len(targets) == 0 {
			continue
		}
		if _, err := f.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: sdkaws.String(tg), Targets: targets}); err != nil {
			return fmt.Errorf("register %d target(s) with %s: %w", len(targets), shortARN(tg), err)
		}
	}
	return nil
}

// deregister deregisters the given instances from tg where they are registered.
func (f *Fleet) deregister(ctx context.Context, v *view, tg string, ids []string) error {
	var targets []elbtypes.TargetDescription
	for _, id := range ids {
		if th, ok := v.health[tg][id]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
			targets = append(targets, elbtypes.TargetDescription{Id: sdkaws.String(id)})
		}
	}
	if len(targets) == 0 {
		return nil
	}
	if _, err := f.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: sdkaws.String(tg), Targets: targets}); err != nil {
		return fmt.Errorf("deregister %d target(s) from %s: %w", len(targets), shortARN(tg), err)
	}
	return nil
}

// Detach takes instances out of service: deregistered from every target group (they
// start draining: the target group's deregistration delay lets in-flight requests
// finish), then detached from the Auto Scaling group with its desired capacity lowered
// to match, so the group does not launch replacements.
func (f *Fleet) Detach(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	v, err := f.look(ctx)
	if err != nil {
		return err
	}
	// Only the fleet's own instances leave: a shared target group may hold others, and
	// the caller naming one is refused whole, as Terminate refuses.
	known := map[string]bool{}
	for _, in := range v.instances {
		known[sdkaws.ToString(in.InstanceId)] = true
	}
	refused := map[string]string{}
	var ours []string
	for _, id := range ids {
		if known[id] {
			ours = append(ours, id)
			continue
		}
		for _, tg := range f.targetGroups() {
			if th, ok := v.health[tg][id]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
				refused[id] = "registered with " + shortARN(tg) + " but not an instance of " + f.who()
			}
		}
	}
	if len(refused) > 0 {
		return &NotManagedError{Action: "detach", Service: f.spec.Service, Environment: f.spec.Environment, Why: refused}
	}
	ids = ours
	for _, tg := range f.targetGroups() {
		if err := f.deregister(ctx, v, tg, ids); err != nil {
			return err
		}
	}
	if v.group != nil {
		return f.groupDetach(ctx, v.group, ids)
	}
	return nil
}

// WaitDrained polls the target groups until none of the instances is draining: the
// target group ends draining when the deregistration delay has passed or the
// connections closed. ctx caps the wait (the release's drain timeout); throttling and
// AWS's own failures are retried until then.
func (f *Fleet) WaitDrained(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := f.waitFor(ctx, fmt.Sprintf("%d target(s) to drain", len(ids)), func(ctx context.Context) ([]string, error) {
		var pending []string
		for _, tg := range f.targetGroups() {
			h, err := f.targetHealth(ctx, tg)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				th, ok := h[id]
				switch {
				case !ok:
				case th.State == elbtypes.TargetHealthStateEnumDraining:
					pending = append(pending, id+" in "+shortARN(tg))
				default:
					return nil, fmt.Errorf("instance %s is still registered with %s (%s): detach it before waiting for it to drain", id, shortARN(tg), th.State)
				}
			}
		}
		return pending, nil
	})
	if err != nil {
		return err
	}
	fleet.Progress(ctx, fmt.Sprintf("%d/%d drained", len(ids), len(ids)))
	return nil
}

// waitTargets waits until every instance is healthy in the target groups that hold it
// (want: target group → instances; nil means wherever each is registered now). A
// target in a group no listener uses is never checked and so never waited for. An
// unhealthy target is waited for too (an application may be slow to start): ctx, the
// release's health timeout, ends the wait.
func (f *Fleet) waitTargets(ctx context.Context, ids []string, want map[string][]string) error {
	if len(f.targetGroups()) == 0 {
		return nil
	}
	return f.waitFor(ctx, "target health", func(ctx context.Context) ([]string, error) {
		var pending []string
		for _, tg := range f.targetGroups() {
			h, err := f.targetHealth(ctx, tg)
			if err != nil {
				return nil, err
			}
			check := want[tg]
			if want == nil {
				for _, id := range ids {
					if th, ok := h[id]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
						check = append(check, id)
					}
				}
			}
			for _, id := range check {
				th, ok := h[id]
				switch {
				case !ok:
					pending = append(pending, id+" not yet registered in "+shortARN(tg))
				case th.State == elbtypes.TargetHealthStateEnumHealthy || notInUse(th):
				default:
					s := fmt.Sprintf("%s %s in %s", id, th.State, shortARN(tg))
					if th.Reason != "" {
						s += " (" + string(th.Reason) + ")"
					}
					pending = append(pending, s)
				}
			}
		}
		return pending, nil
	})
}

// Terminate terminates instances that zerodown launched for this service and
// environment, or that belong to the fleet's Auto Scaling group; it refuses the whole
// call, terminating nothing, if any other instance is named, or if AWS's description
// of them holds an instance that was not asked for (UnexpectedAnswerError). Instances
// already gone are fine, so a retry succeeds.
func (f *Fleet) Terminate(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	insts, err := f.instancesByID(ctx, ids, liveStates)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		return nil
	}
	refused := map[string]string{}
	var live []string
	for _, in := range insts {
		id := sdkaws.ToString(in.InstanceId)
		if why := f.notOurs(in); why != "" {
			refused[id] = why
			continue
		}
		live = append(live, id)
	}
	if len(refused) > 0 {
		return &NotManagedError{Service: f.spec.Service, Environment: f.spec.Environment, Why: refused}
	}
	if f.spec.AutoScalingGroup != "" {
		// The group's own instances are tagged as the fleet's first: the IAM policy lets
		// zerodown terminate only instances that carry its tags.
		if err := f.adopt(ctx, live); err != nil {
			return err
		}
		// Still in the group, the group would count it as lost capacity and replace it.
		g, err := f.describeGroup(ctx)
		if err != nil {
			return err
		}
		if err := f.groupDetach(ctx, g, live); err != nil {
			return err
		}
	}
	for _, c := range chunks(live, maxIDsPerCall) {
		if _, err := f.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: c}); err != nil {
			if apiCode(err) == "InvalidInstanceID.NotFound" {
				continue
			}
			return fmt.Errorf("terminate %s: %w", listed(c), err)
		}
	}
	return nil
}

// notOurs says why an instance may not be terminated by this fleet, or "" if it may.
func (f *Fleet) notOurs(in ec2types.Instance) string {
	svc, env := tagOf(in.Tags, TagService), tagOf(in.Tags, TagEnvironment)
	switch {
	case tagOf(in.Tags, TagRole) == RoleBuilder:
		return "an image builder, not a fleet instance"
	case svc == f.spec.Service && env == f.spec.Environment:
		return ""
	case f.spec.AutoScalingGroup != "" && tagOf(in.Tags, tagGroupName) == f.spec.AutoScalingGroup && svc == "":
		// Launched by the fleet's own Auto Scaling group (the tag is AWS's to set).
		return ""
	case svc == "":
		return "no " + TagService + " tag"
	default:
		return TagService + "=" + svc + ", " + TagEnvironment + "=" + env
	}
}

// SetWeights gives each version its share of traffic through the weighted listener
// rule: the canary version (the one with the smaller share) is served by the canary
// target group, the other by the first of targetGroups, and the rule forwards to the
// two with the given weights. A single version (or one at 100) moves every instance
// back to the stable group and the canary group's weight to 0. An empty map restores
// the fleet as it is without weights: every attached instance in the stable group,
// which takes all the traffic (an equal share per instance), the canary group at 0;
// without a weighted rule there is nothing to restore. Instances are moved
// make-before-break: registered where they go and healthy there before the rule
// changes, deregistered where they were only after.
func (f *Fleet) SetWeights(ctx context.Context, weights map[string]int) error {
	weighted := f.spec.ListenerRuleArn != "" && f.spec.CanaryTargetGroup != ""
	if len(weights) == 0 {
		if !weighted {
			return nil
		}
		return f.restoreWeights(ctx)
	}
	if !weighted {
		return fmt.Errorf("%w: traffic weights need target.aws.listenerRuleArn and target.aws.canaryTargetGroup (a weighted forward to two target groups)", fleet.ErrInvalidConfig)
	}
	total := 0
	for ver, w := range weights {
		if w < 0 {
			return fmt.Errorf("%w: weight of %s is negative", fleet.ErrInvalidConfig, ver)
		}
		total += w
	}
	if total == 0 {
		return fmt.Errorf("%w: weights %v give traffic to no version", fleet.ErrInvalidConfig, weights)
	}
	v, err := f.look(ctx)
	if err != nil {
		return err
	}
	attached := f.attachedByVersion(v)
	for ver, w := range weights {
		if w > 0 && len(attached[ver]) == 0 {
			return fmt.Errorf("%w: no attached instance runs %s, which should take %d%% of traffic", fleet.ErrNotFound, ver, w*100/total)
		}
	}
	// An attached version the weights leave out gets 0: it goes to the canary group at
	// weight 0, where it is health-checked but sent nothing.
	versions := slices.Collect(maps.Keys(attached))
	if len(versions) > 2 {
		return fmt.Errorf("%w: a weighted listener rule splits traffic between two versions; %d are attached (%s)", fleet.ErrInvalidConfig, len(versions), strings.Join(slices.Sorted(maps.Keys(attached)), ", "))
	}
	canary, canaryWeight := "", 0
	if len(versions) == 2 {
		slices.SortFunc(versions, func(a, b string) int {
			if weights[a] != weights[b] {
				return weights[a] - weights[b]
			}
			if len(attached[a]) != len(attached[b]) {
				return len(attached[a]) - len(attached[b])
			}
			return strings.Compare(b, a)
		})
		canary = versions[0]
		canaryWeight = (weights[canary]*100 + total/2) / total
	}
	return f.moveAndWeigh(ctx, v, attached, canary, canaryWeight)
}

// restoreWeights puts every attached instance in the stable group and sends it all the
// traffic: the state of a fleet that was never weighted.
func (f *Fleet) restoreWeights(ctx context.Context) error {
	v, err := f.look(ctx)
	if err != nil {
		return err
	}
	return f.moveAndWeigh(ctx, v, f.attachedByVersion(v), "", 0)
}

// attachedByVersion lists the instances attached to the stable or the canary group.
func (f *Fleet) attachedByVersion(v *view) map[string][]string {
	attached := map[string][]string{} // version → attached instances
	for _, in := range v.instances {
		id := sdkaws.ToString(in.InstanceId)
		for _, tg := range []string{f.stableGroup(), f.spec.CanaryTargetGroup} {
			if th, ok := v.health[tg][id]; ok && th.State != elbtypes.TargetHealthStateEnumDraining {
				attached[versionOf(in)] = append(attached[versionOf(in)], id)
				break
			}
		}
	}
	return attached
}

// moveAndWeigh puts the canary version's attached instances in the canary group and the
// others in the stable group, make-before-break, and weighs the rule's forward.
func (f *Fleet) moveAndWeigh(ctx context.Context, v *view, attached map[string][]string, canary string, canaryWeight int) error {
	stable, canaryTG := f.stableGroup(), f.spec.CanaryTargetGroup
	// Where every attached instance belongs, and where it must leave.
	want := map[string][]string{}
	leave := map[string][]string{}
	for ver, ids := range attached {
		to, from := stable, canaryTG
		if ver == canary {
			to, from = canaryTG, stable
		}
		want[to] = append(want[to], ids...)
		leave[from] = append(leave[from], ids...)
	}
	if err := f.register(ctx, v, want); err != nil {
		return err
	}
	var ids []string
	for _, list := range want {
		ids = append(ids, list...)
	}
	if err := f.waitTargets(ctx, ids, want); err != nil {
		return err
	}
	if err := f.setRuleWeights(ctx, v.rule, 100-canaryWeight, canaryWeight); err != nil {
		return err
	}
	for _, tg := range slices.Sorted(maps.Keys(leave)) {
		if err := f.deregister(ctx, v, tg, leave[tg]); err != nil {
			return err
		}
	}
	return nil
}

// setRuleWeights rewrites the rule's forward action as a weighted forward to the stable
// and canary target groups, keeping its other actions. Group stickiness is the rule's
// own unless target.aws.stickiness is set: then it is on while the canary takes a share
// and off when it takes none, because an ALB honours stickiness before weights and
// would keep sending a rolled-back canary's users to it until their cookie expires.
func (f *Fleet) setRuleWeights(ctx context.Context, rule *elbtypes.Rule, stableWeight, canaryWeight int) error {
	actions := slices.Clone(rule.Actions)
	found := false
	for i, a := range actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		found = true
		cfg := &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: sdkaws.String(f.stableGroup()), Weight: sdkaws.Int32(int32(stableWeight))},
			{TargetGroupArn: sdkaws.String(f.spec.CanaryTargetGroup), Weight: sdkaws.Int32(int32(canaryWeight))},
		}}
		switch sticky := f.spec.Stickiness.D(); {
		case sticky > 0 && canaryWeight > 0:
			cfg.TargetGroupStickinessConfig = &elbtypes.TargetGroupStickinessConfig{
				Enabled: sdkaws.Bool(true), DurationSeconds: sdkaws.Int32(int32(max(1, sticky/time.Second))),
			}
		case sticky > 0:
			cfg.TargetGroupStickinessConfig = &elbtypes.TargetGroupStickinessConfig{Enabled: sdkaws.Bool(false)}
		case a.ForwardConfig != nil:
			cfg.TargetGroupStickinessConfig = a.ForwardConfig.TargetGroupStickinessConfig
		}
		actions[i].ForwardConfig = cfg
		actions[i].TargetGroupArn = nil // a weighted forward names its groups in ForwardConfig only
	}
	if !found {
		return fmt.Errorf("%w: listener rule %s has no forward action to weight", fleet.ErrInvalidConfig, f.spec.ListenerRuleArn)
	}
	if _, err := f.elb.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: sdkaws.String(f.spec.ListenerRuleArn), Actions: actions}); err != nil {
		return fmt.Errorf("modify listener rule: %w", err)
	}
	return nil
}

// shortARN is the readable end of an ARN (targetgroup/web/0123 → web).
func shortARN(arn string) string {
	parts := strings.Split(arn, "/")
	if len(parts) >= 3 {
		return parts[len(parts)-2]
	}
	return arn
}
