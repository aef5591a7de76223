package aws

import (
	"fmt"
	"strings"

	"github.com/zerodown/zerodown/schemas"
)

// PlanShape is what PlanCalls needs of a release plan. It mirrors workflows.Plan, which
// this package cannot import (workflows depends on the activities that use it).
type PlanShape struct {
	Strategy string
	Old      int // old instances serving when the release starts
	Canary   int
	Batches  []PlanBatch
}

// PlanBatch is one promote step: launch Launch instances, then detach old instances
// until OldAttached remain.
type PlanBatch struct {
	Launch      int
	OldAttached int
}

// PlanCalls lists the AWS API calls a release of spec makes, step by step, for
// `zerodown plan`: what an operator checks against the IAM policy and CloudTrail before
// letting zerodown loose on an account. Each call is written service:Operation, as in
// IAM; a test keeps them in step with the operations the fleet really calls.
func PlanCalls(spec schemas.Spec, version string, p PlanShape) []string {
	a := spec.Target.AWS
	if a == nil {
		return nil
	}
	asg := a.AutoScalingGroup != ""
	tgs := len(a.TargetGroups)
	if a.CanaryTargetGroup != "" {
		tgs++
	}
	out := []string{fmt.Sprintf("aws: API calls in %s, on instances tagged %s=%s %s=%s:",
		a.Region, TagService, orDefault(a.Service, spec.Service), TagEnvironment, orDefault(a.Environment, spec.Environment))}
	add := func(step, calls string) { out = append(out, fmt.Sprintf("  %-10s %s", step+":", calls)) }

	describe := "ec2:DescribeInstances (by tags), ec2:DescribeInstanceStatus"
	if tgs > 0 {
		describe += fmt.Sprintf(", elasticloadbalancing:DescribeTargetHealth (%d target group(s))", tgs)
	}
	if asg {
		describe += ", autoscaling:DescribeAutoScalingGroups (" + a.AutoScalingGroup + "; its members count as the fleet)"
	}
	if a.ListenerRuleArn != "" {
		describe += ", elasticloadbalancing:DescribeRules (the weighted rule)"
	}
	add("describe", describe+"; before most steps below")
	if asg {
		add("prepare", fmt.Sprintf("autoscaling:CreateOrUpdateTags (record min/max/desired and what is suspended on %s), autoscaling:SuspendProcesses (%s)",
			a.AutoScalingGroup, strings.Join(SuspendedProcesses, ", ")))
	}

	reuse := fmt.Sprintf("ec2:DescribeImages (an AMI tagged %s=%s %s=%s is reused)", TagService, orDefault(a.Service, spec.Service), TagVersion, version)
	switch spec.Bake.Method {
	case schemas.BakeEC2Image:
		base := "the launch template's AMI"
		if spec.Bake.BaseImage != "" {
			base = spec.Bake.BaseImage
		}
		add("bake", reuse+"; else ec2:RunInstances (a builder from "+base+" with the user data), ec2:DescribeInstances (until it powers off), "+
			"ec2:CreateImage (tagged), ec2:DescribeImages (until available), ec2:TerminateInstances (the builder)")
	case schemas.BakePacker:
		add("bake", reuse+"; else packer build -machine-readable -var version="+version+" "+spec.Bake.Template+", then ec2:CreateTags (tag its AMI)")
	default:
		add("bake", "none: "+reuse+" at launch, else the launch template's own AMI")
	}

	lt := a.LaunchTemplate + " " + orDefault(a.LaunchTemplateVersion, "$Default")
	launch := fmt.Sprintf("ec2:RunInstances over %d subnet(s) (launch template %s, the release's AMI, ClientToken = SHA-256 of the release key: a retry gets the same instances), "+
		"ec2:DescribeInstances and ec2:DescribeInstanceStatus (100 instances per call, until running with status checks ok)", max(1, len(a.Subnets)), lt)
	if asg {
		launch += ", autoscaling:AttachInstances (autoscaling:UpdateAutoScalingGroup first if the surge passes its max)"
	}
	if tgs > 0 {
		launch += ", elasticloadbalancing:RegisterTargets, elasticloadbalancing:DescribeTargetHealth (until healthy)"
	}
	add("launch", "for each canary and batch: "+launch)
	var detach []string
	if tgs > 0 {
		detach = append(detach, "elasticloadbalancing:DeregisterTargets (draining starts)")
	}
	if asg {
		detach = append(detach, "ec2:CreateTags (the group's own instances are tagged as the fleet's before they leave it)",
			"autoscaling:DetachInstances (desired capacity lowered with it; autoscaling:UpdateAutoScalingGroup first if it would cross the min)")
	}
	add("detach", "for each old instance taken out of service: "+strings.Join(detach, ", "))
	add("canary", fmt.Sprintf("launch %d", p.Canary))
	if a.ListenerRuleArn != "" {
		calls := "elasticloadbalancing:RegisterTargets (canary target group), elasticloadbalancing:ModifyRule (weighted forward), elasticloadbalancing:DeregisterTargets (from the stable group)"
		if steps := spec.Canary.Traffic; len(steps) > 0 {
			add("weights", fmt.Sprintf("at each traffic step %v, at a rollback (canary to 0) and on every way out (all to the stable group): %s", steps, calls))
		} else {
			add("weights", "only if the release sets a canary share: "+calls)
		}
	}
	oldAttached := p.Old
	for i, b := range p.Batches {
		step := fmt.Sprintf("batch %d/%d", i+1, len(p.Batches))
		if p.Strategy == schemas.StrategyBlueGreen {
			step = "bluegreen"
		}
		var parts []string
		if b.Launch > 0 {
			parts = append(parts, fmt.Sprintf("launch %d", b.Launch))
		}
		if n := oldAttached - b.OldAttached; n > 0 {
			parts = append(parts, fmt.Sprintf("detach %d old", n))
			oldAttached = b.OldAttached
		}
		if len(parts) > 0 {
			add(step, strings.Join(parts, ", then "))
		}
	}
	terminate := fmt.Sprintf("ec2:DescribeInstances (IDs and tags checked: only those asked for, and only zerodown's for this service%s), ", map[bool]string{true: " or " + a.AutoScalingGroup + "'s", false: ""}[asg])
	if asg {
		terminate += "autoscaling:DetachInstances (any still in the group), "
	}
	terminate += fmt.Sprintf("ec2:TerminateInstances (%d old)", p.Old)
	if tgs > 0 {
		terminate = "elasticloadbalancing:DescribeTargetHealth (until no longer draining), " + terminate
	}
	add("drain", terminate)
	if asg {
		add("finish", "ec2:CreateLaunchTemplateVersion (the group's template with the new AMI), autoscaling:UpdateAutoScalingGroup (that version; min/max as they were), "+
			"autoscaling:ResumeProcesses (only those zerodown suspended), autoscaling:DeleteTags")
	}
	rb := "rollback:  only on failure: "
	if tgs > 0 {
		rb += "elasticloadbalancing:RegisterTargets (the old instances), "
	}
	rb += "new instances detached, drained and terminated as above"
	if asg {
		rb += "; then finish without the launch template"
	}
	out = append(out, "  "+rb)
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
