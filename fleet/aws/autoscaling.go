package aws

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/zerodown/zerodown/fleet"
)

// An Auto Scaling group left to itself fights a release: it launches instances from
// its own template when its desired capacity is above what it holds, terminates some
// when below, replaces instances it finds unhealthy, rebalances zones, and follows
// alarms and schedules. While a release holds the group, zerodown suspends those
// processes (SuspendedProcesses), moves instances in and out itself with
// AttachInstances / DetachInstances (which keep the desired capacity in step), widens
// min/max when the surge needs it, and puts everything back at the end.
//
// What it must put back is written on the group itself, as tags, so that a worker that
// crashed — or a release whose workflow was terminated — leaves a record the next
// Finish (or the next release's Prepare) can restore from:
//
//	zerodown:release               the release holding the group
//	zerodown:saved-capacity        min, max and desired before zerodown changed them
//	zerodown:suspended-processes   the processes zerodown suspended (not those it found suspended)

// Prepare readies the Auto Scaling group for the release (a no-op without one):
// records the group's state, then suspends the processes that would fight the release.
// A retry finds its own record and only repeats the suspension. A record left by
// another release that never finished is taken over: it still holds the group's state
// from before zerodown touched it, which is what Finish must restore.
func (f *Fleet) Prepare(ctx context.Context, release string) error {
	if f.spec.AutoScalingGroup == "" {
		return nil
	}
	if release == "" {
		return fmt.Errorf("%w: Prepare needs the release key", fleet.ErrInvalidConfig)
	}
	g, err := f.describeGroup(ctx)
	if err != nil {
		return err
	}
	tags := groupTags(g)
	owner := tags[TagGroupRelease]
	suspend := splitList(tags[TagGroupSuspended])
	if owner != release {
		already := map[string]bool{}
		for _, p := range g.SuspendedProcesses {
			already[sdkaws.ToString(p.ProcessName)] = true
		}
		for _, p := range SuspendedProcesses {
			if !already[p] && !slices.Contains(suspend, p) {
				suspend = append(suspend, p)
			}
		}
		record := map[string]string{TagGroupRelease: release, TagGroupSuspended: strings.Join(suspend, ",")}
		if tags[TagGroupCapacity] == "" {
			record[TagGroupCapacity] = capacityOf(g)
		}
		// The record goes first: a crash between the two calls leaves a record of
		// processes not yet suspended, and resuming those later is harmless.
		if err := f.setGroupTags(ctx, record); err != nil {
			return err
		}
	}
	if len(suspend) == 0 {
		return nil // an empty list would suspend every process
	}
	if _, err := f.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
		AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup), ScalingProcesses: suspend,
	}); err != nil {
		return fmt.Errorf("suspend processes of %s: %w", f.spec.AutoScalingGroup, err)
	}
	return nil
}

// Finish restores the Auto Scaling group after the release, whatever its outcome (a
// no-op without a group, or when the group holds no record of this release). After a
// success, the group launches the new version from then on: a new version of its
// launch template with the release's AMI, which the group is pointed at (a group that
// follows $Latest needs no change). Min and max go back to what they were, widened
// only as far as the fleet's size now needs; the processes zerodown suspended resume;
// the record is removed last, so a retry after a partial Finish completes it.
func (f *Fleet) Finish(ctx context.Context, req fleet.FinishRequest) error {
	if f.spec.AutoScalingGroup == "" {
		return nil
	}
	g, err := f.describeGroup(ctx)
	if err != nil {
		return err
	}
	tags := groupTags(g)
	owner := tags[TagGroupRelease]
	if owner != "" && owner != req.Release {
		return nil // a later release holds the group now; it will restore it
	}
	if owner == "" && tags[TagGroupCapacity] == "" && tags[TagGroupSuspended] == "" {
		return nil // nothing recorded: never prepared, or already finished
	}
	update := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup)}
	changed := false
	if req.Succeeded && g.LaunchTemplate != nil {
		image, err := f.resolveImage(ctx, req.Image, req.Version)
		if err != nil {
			return err
		}
		if image != "" {
			spec, err := f.newTemplateVersion(ctx, g.LaunchTemplate, image, req)
			if err != nil {
				return err
			}
			if spec != nil {
				update.LaunchTemplate = spec
				changed = true
			}
		}
	}
	if saved, ok := parseCapacity(tags[TagGroupCapacity]); ok {
		desired := sdkaws.ToInt32(g.DesiredCapacity)
		lo, hi := min(saved.min, desired), max(saved.max, desired)
		if lo != sdkaws.ToInt32(g.MinSize) || hi != sdkaws.ToInt32(g.MaxSize) {
			update.MinSize, update.MaxSize = sdkaws.Int32(lo), sdkaws.Int32(hi)
			changed = true
		}
	}
	if changed {
		if _, err := f.asg.UpdateAutoScalingGroup(ctx, update); err != nil {
			return fmt.Errorf("restore auto scaling group %s: %w", f.spec.AutoScalingGroup, err)
		}
	}
	if resume := splitList(tags[TagGroupSuspended]); len(resume) > 0 {
		if _, err := f.asg.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
			AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup), ScalingProcesses: resume,
		}); err != nil {
			return fmt.Errorf("resume processes of %s: %w", f.spec.AutoScalingGroup, err)
		}
	}
	var drop []asgtypes.Tag
	for _, k := range []string{TagGroupRelease, TagGroupCapacity, TagGroupSuspended} {
		if _, ok := tags[k]; ok {
			drop = append(drop, f.groupTag(k, ""))
		}
	}
	if len(drop) == 0 {
		return nil
	}
	if _, err := f.asg.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: drop}); err != nil {
		return fmt.Errorf("remove zerodown's tags from %s: %w", f.spec.AutoScalingGroup, err)
	}
	return nil
}

// newTemplateVersion creates the version of the group's launch template that runs image,
// and returns what the group must point at (nil when it follows $Latest already). The
// client token makes a retried Finish get the same version back.
func (f *Fleet) newTemplateVersion(ctx context.Context, lt *asgtypes.LaunchTemplateSpecification, image string, req fleet.FinishRequest) (*asgtypes.LaunchTemplateSpecification, error) {
	source := sdkaws.ToString(lt.Version)
	if source == "" {
		source = "$Default"
	}
	in := &ec2.CreateLaunchTemplateVersionInput{
		SourceVersion:      sdkaws.String(source),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: sdkaws.String(image)},
		VersionDescription: sdkaws.String(fmt.Sprintf("zerodown: %s %s (%s)", f.spec.Service, req.Version, image)),
		ClientToken:        sdkaws.String(ClientToken(req.Release + "/launch-template")),
	}
	if lt.LaunchTemplateId != nil {
		in.LaunchTemplateId = lt.LaunchTemplateId
	} else {
		in.LaunchTemplateName = lt.LaunchTemplateName
	}
	res, err := f.ec2.CreateLaunchTemplateVersion(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("create launch template version with %s: %w", image, err)
	}
	if source == "$Latest" || res.LaunchTemplateVersion == nil {
		return nil, nil
	}
	out := &asgtypes.LaunchTemplateSpecification{Version: sdkaws.String(strconv.FormatInt(sdkaws.ToInt64(res.LaunchTemplateVersion.VersionNumber), 10))}
	if lt.LaunchTemplateId != nil {
		out.LaunchTemplateId = lt.LaunchTemplateId
	} else {
		out.LaunchTemplateName = lt.LaunchTemplateName
	}
	return out, nil
}

// groupAttach moves instances into the group. AttachInstances raises the desired
// capacity by their number and fails past the maximum, so the maximum is raised first
// when the release's surge needs it (Finish puts it back).
func (f *Fleet) groupAttach(ctx context.Context, g *asgtypes.AutoScalingGroup, ids []string) error {
	var add []string
	for _, id := range ids {
		if !inGroup(g, id) {
			add = append(add, id)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if need := sdkaws.ToInt32(g.DesiredCapacity) + int32(len(add)); need > sdkaws.ToInt32(g.MaxSize) {
		if err := f.saveCapacity(ctx, g); err != nil {
			return err
		}
		if _, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup), MaxSize: sdkaws.Int32(need),
		}); err != nil {
			return fmt.Errorf("raise the maximum of %s to %d for the release's surge: %w", f.spec.AutoScalingGroup, need, err)
		}
	}
	for _, c := range chunks(add, 20) { // at most 20 instances per call
		if _, err := f.asg.AttachInstances(ctx, &autoscaling.AttachInstancesInput{
			AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup), InstanceIds: c,
		}); err != nil {
			return fmt.Errorf("attach %s to %s: %w", strings.Join(c, ", "), f.spec.AutoScalingGroup, err)
		}
	}
	return nil
}

// groupDetach moves instances out of the group, lowering its desired capacity so it
// launches no replacement; the minimum is lowered first if that would cross it.
func (f *Fleet) groupDetach(ctx context.Context, g *asgtypes.AutoScalingGroup, ids []string) error {
	var rm []string
	for _, id := range ids {
		if inGroup(g, id) {
			rm = append(rm, id)
		}
	}
	if len(rm) == 0 {
		return nil
	}
	if err := f.adopt(ctx, rm); err != nil {
		return err
	}
	if after := sdkaws.ToInt32(g.DesiredCapacity) - int32(len(rm)); after < sdkaws.ToInt32(g.MinSize) {
		if err := f.saveCapacity(ctx, g); err != nil {
			return err
		}
		if _, err := f.asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: sdkaws.String(f.spec.AutoScalingGroup), MinSize: sdkaws.Int32(max(after, 0)),
		}); err != nil {
			return fmt.Errorf("lower the minimum of %s to %d: %w", f.spec.AutoScalingGroup, after, err)
		}
	}
	for _, c := range chunks(rm, 20) {
		if _, err := f.asg.DetachInstances(ctx, &autoscaling.DetachInstancesInput{
			AutoScalingGroupName:           sdkaws.String(f.spec.AutoScalingGroup),
			InstanceIds:                    c,
			ShouldDecrementDesiredCapacity: sdkaws.Bool(true),
		}); err != nil {
			return fmt.Errorf("detach %s from %s: %w", strings.Join(c, ", "), f.spec.AutoScalingGroup, err)
		}
	}
	return nil
}

// adopt tags the group's own instances (launched by it, not by zerodown) as the fleet's
// before they leave the group: outside it, only the tags say they belong to the fleet,
// and a rollback must find them to put them back, or a drain to terminate them.
func (f *Fleet) adopt(ctx context.Context, ids []string) error {
	insts, err := f.instancesByID(ctx, ids, nil)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if tagOf(in.Tags, TagService) != "" {
			continue
		}
		id := sdkaws.ToString(in.InstanceId)
		if _, err := f.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{
			{Key: sdkaws.String(TagService), Value: sdkaws.String(f.spec.Service)},
			{Key: sdkaws.String(TagEnvironment), Value: sdkaws.String(f.spec.Environment)},
			{Key: sdkaws.String(TagVersion), Value: sdkaws.String(versionOf(in))},
		}}); err != nil {
			return fmt.Errorf("tag %s as part of %s before it leaves %s: %w", id, f.who(), f.spec.AutoScalingGroup, err)
		}
	}
	return nil
}

// saveCapacity records the group's min/max/desired before zerodown first changes them.
func (f *Fleet) saveCapacity(ctx context.Context, g *asgtypes.AutoScalingGroup) error {
	if groupTags(g)[TagGroupCapacity] != "" {
		return nil
	}
	return f.setGroupTags(ctx, map[string]string{TagGroupCapacity: capacityOf(g)})
}

func (f *Fleet) setGroupTags(ctx context.Context, kv map[string]string) error {
	var tags []asgtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		tags = append(tags, f.groupTag(k, kv[k]))
	}
	if _, err := f.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: tags}); err != nil {
		return fmt.Errorf("tag auto scaling group %s: %w", f.spec.AutoScalingGroup, err)
	}
	return nil
}

func (f *Fleet) groupTag(k, v string) asgtypes.Tag {
	return asgtypes.Tag{
		ResourceId:        sdkaws.String(f.spec.AutoScalingGroup),
		ResourceType:      sdkaws.String("auto-scaling-group"),
		Key:               sdkaws.String(k),
		Value:             sdkaws.String(v),
		PropagateAtLaunch: sdkaws.Bool(false), // bookkeeping for the group, not its instances
	}
}

func groupTags(g *asgtypes.AutoScalingGroup) map[string]string {
	out := map[string]string{}
	for _, t := range g.Tags {
		out[sdkaws.ToString(t.Key)] = sdkaws.ToString(t.Value)
	}
	return out
}

type capacity struct{ min, max, desired int32 }

func capacityOf(g *asgtypes.AutoScalingGroup) string {
	return fmt.Sprintf("min=%d,max=%d,desired=%d", sdkaws.ToInt32(g.MinSize), sdkaws.ToInt32(g.MaxSize), sdkaws.ToInt32(g.DesiredCapacity))
}

func parseCapacity(s string) (capacity, bool) {
	var c capacity
	if s == "" {
		return c, false
	}
	if _, err := fmt.Sscanf(s, "min=%d,max=%d,desired=%d", &c.min, &c.max, &c.desired); err != nil {
		return c, false
	}
	return c, true
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
