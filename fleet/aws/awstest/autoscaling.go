package awstest

import (
	"fmt"
	"slices"
)

// Group is an Auto Scaling group.
type Group struct {
	Name                   string
	Min, Max, Desired      int
	Members                []string
	Suspended              []string
	Tags                   map[string]string
	TemplateID, TemplateV  string
	TargetGroups           []string
	launched, terminatedBy int // what the group did on its own
}

// allProcesses are Auto Scaling's processes; suspending "nothing" suspends these.
var allProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

// AddGroup creates an Auto Scaling group over a launch template ($Default) and target
// groups, and fills it to desired with instances of its own.
func (c *Cloud) AddGroup(name string, minSize, maxSize, desired int, template string, targetGroups ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := &Group{Name: name, Min: minSize, Max: maxSize, Desired: desired, Tags: map[string]string{}, TemplateID: template, TemplateV: "$Default", TargetGroups: targetGroups}
	c.asgs[name] = g
	c.reconcile(g)
	for _, id := range g.Members {
		in := c.instances[id]
		in.State, in.Status = "running", "ok"
		for _, tg := range targetGroups {
			c.groups[tg].targets[id] = &Target{State: "healthy"}
			c.groups[tg].order = append(c.groups[tg].order, id)
		}
	}
	g.launched = 0
}

// Suspend suspends processes of a group by hand, as an operator would.
func (c *Cloud) Suspend(name string, processes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.asgs[name]
	for _, p := range processes {
		if !slices.Contains(g.Suspended, p) {
			g.Suspended = append(g.Suspended, p)
		}
	}
}

// Group returns a copy of an Auto Scaling group.
func (c *Cloud) Group(name string) Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := *c.asgs[name]
	g.Members = slices.Clone(g.Members)
	g.Suspended = slices.Clone(g.Suspended)
	g.Tags = cloneMap(g.Tags)
	g.TargetGroups = slices.Clone(g.TargetGroups)
	return g
}

// Launched and Terminated count the instances the group launched or terminated on its
// own: what a held-back group never does.
func (g Group) Launched() int   { return g.launched }
func (g Group) Terminated() int { return g.terminatedBy }

// ScaleTo is an alarm or a scheduled action setting the group's desired capacity. A
// group whose AlarmNotification and ScheduledActions are suspended ignores it; it
// reports whether the group acted.
func (c *Cloud) ScaleTo(name string, desired int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.asgs[name]
	if slices.Contains(g.Suspended, "AlarmNotification") && slices.Contains(g.Suspended, "ScheduledActions") {
		return false
	}
	g.Desired = max(g.Min, min(g.Max, desired))
	before := g.launched + g.terminatedBy
	c.reconcile(g)
	return g.launched+g.terminatedBy != before
}

// reconcile is the group doing its job: launching up to its desired capacity and
// terminating down to it, unless those processes are suspended.
func (c *Cloud) reconcile(g *Group) {
	for len(g.Members) < g.Desired && !slices.Contains(g.Suspended, "Launch") {
		lt, v, err := c.resolveTemplate(g.TemplateID, "", g.TemplateV)
		if err != nil {
			return
		}
		in := c.newInstance(lt.Versions[v-1], "subnet-0default", "", map[string]string{"aws:autoscaling:groupName": g.Name})
		g.Members = append(g.Members, in.ID)
		g.launched++
		for _, tg := range g.TargetGroups {
			c.groups[tg].targets[in.ID] = &Target{State: "initial", left: c.steps()}
			c.groups[tg].order = append(c.groups[tg].order, in.ID)
		}
	}
	for len(g.Members) > g.Desired && !slices.Contains(g.Suspended, "Terminate") {
		// The default termination policy favours the oldest launch template: here, the
		// oldest instance — which is what a release's old fleet is.
		id := g.Members[0]
		g.Members = g.Members[1:]
		g.terminatedBy++
		c.setState(c.instances[id], "shutting-down")
	}
}

func (c *Cloud) autoscaling(action string, q *node) (*X, *apiError) {
	if action == "DescribeAutoScalingGroups" {
		var items []*X
		for _, name := range q.strs("AutoScalingGroupNames") {
			if g := c.asgs[name]; g != nil {
				items = append(items, c.groupXML(g))
			}
		}
		return E("", list("AutoScalingGroups", "member", items)), nil
	}
	if action == "CreateOrUpdateTags" || action == "DeleteTags" {
		for _, t := range q.list("Tags") {
			g := c.asgs[t.str("ResourceId")]
			if g == nil || t.str("ResourceType") != "auto-scaling-group" {
				return nil, errorf("ValidationError", "AutoScalingGroup name not found - %s", t.str("ResourceId"))
			}
			if action == "DeleteTags" {
				delete(g.Tags, t.str("Key"))
			} else {
				if len(t.str("Value")) > 256 {
					return nil, errorf("ValidationError", "Tag value exceeds 256 characters")
				}
				g.Tags[t.str("Key")] = t.str("Value")
			}
		}
		return nil, nil
	}
	g := c.asgs[q.str("AutoScalingGroupName")]
	if g == nil {
		return nil, errorf("ValidationError", "AutoScalingGroup name not found - %s", q.str("AutoScalingGroupName"))
	}
	switch action {
	case "SuspendProcesses", "ResumeProcesses":
		procs := q.strs("ScalingProcesses")
		if len(procs) == 0 {
			procs = allProcesses
		}
		for _, p := range procs {
			if !slices.Contains(allProcesses, p) {
				return nil, errorf("ValidationError", "Process %s is not a valid process", p)
			}
		}
		for _, p := range procs {
			i := slices.Index(g.Suspended, p)
			switch {
			case action == "SuspendProcesses" && i < 0:
				g.Suspended = append(g.Suspended, p)
			case action == "ResumeProcesses" && i >= 0:
				g.Suspended = slices.Delete(g.Suspended, i, i+1)
			}
		}
		if action == "ResumeProcesses" {
			c.reconcile(g)
		}
		return nil, nil
	case "AttachInstances":
		ids := q.strs("InstanceIds")
		if len(ids) > 20 {
			return nil, errorf("ValidationError", "The number of instance ids must be between 1 and 20")
		}
		var add []string
		for _, id := range ids {
			in := c.instances[id]
			if in == nil || in.State != "running" {
				return nil, errorf("ValidationError", "Instance %s is not in correct state", id)
			}
			if slices.Contains(g.Members, id) {
				continue
			}
			for _, other := range c.asgs {
				if other != g && slices.Contains(other.Members, id) {
					return nil, errorf("ValidationError", "The instance %s is already part of the Auto Scaling group %s", id, other.Name)
				}
			}
			add = append(add, id)
		}
		if g.Desired+len(add) > g.Max {
			return nil, errorf("ValidationError", "Cannot attach %d instances to %s: the desired capacity %d would exceed the max size %d", len(add), g.Name, g.Desired+len(add), g.Max)
		}
		for _, id := range add {
			g.Members = append(g.Members, id)
			c.instances[id].Tags["aws:autoscaling:groupName"] = g.Name
			for _, tg := range g.TargetGroups {
				if t, ok := c.groups[tg].targets[id]; !ok || t.State == "draining" {
					c.groups[tg].targets[id] = &Target{State: "initial", left: c.steps()}
					c.groups[tg].order = append(c.groups[tg].order, id)
				}
			}
		}
		g.Desired += len(add)
		return nil, nil
	case "DetachInstances":
		ids := q.strs("InstanceIds")
		decrement := q.str("ShouldDecrementDesiredCapacity") == "true"
		if !q.has("ShouldDecrementDesiredCapacity") {
			return nil, errorf("ValidationError", "ShouldDecrementDesiredCapacity is required")
		}
		for _, id := range ids {
			if !slices.Contains(g.Members, id) {
				return nil, errorf("ValidationError", "The instance %s is not part of Auto Scaling group %s", id, g.Name)
			}
		}
		if decrement && g.Desired-len(ids) < g.Min {
			return nil, errorf("ValidationError", "Desired capacity:%d must be between the specified min size:%d and max size:%d", g.Desired-len(ids), g.Min, g.Max)
		}
		var acts []*X
		for _, id := range ids {
			i := slices.Index(g.Members, id)
			g.Members = slices.Delete(g.Members, i, i+1)
			for _, tg := range g.TargetGroups {
				if t, ok := c.groups[tg].targets[id]; ok && t.State != "draining" {
					t.State, t.Reason, t.left = "draining", "Target.DeregistrationInProgress", c.groups[tg].drainSteps(c)
				}
			}
			acts = append(acts, E("member", T("ActivityId", fmt.Sprintf("act-%d", c.seq)), T("AutoScalingGroupName", g.Name),
				T("Description", "Detaching EC2 instance: "+id), T("Cause", "instance detached by a user request"),
				T("StartTime", isoTime(c.clock())), T("StatusCode", "InProgress"), T("Progress", 50)))
		}
		if decrement {
			g.Desired -= len(ids)
		} else {
			c.reconcile(g)
		}
		return E("", list("Activities", "member", acts)), nil
	case "UpdateAutoScalingGroup":
		minSize, maxSize, desired := g.Min, g.Max, g.Desired
		if q.has("MinSize") {
			minSize = q.int("MinSize")
		}
		if q.has("MaxSize") {
			maxSize = q.int("MaxSize")
		}
		if minSize > maxSize {
			return nil, errorf("ValidationError", "Max bound, %d, must be greater than or equal to min bound, %d", maxSize, minSize)
		}
		if q.has("DesiredCapacity") {
			desired = q.int("DesiredCapacity")
			if desired < minSize || desired > maxSize {
				return nil, errorf("ValidationError", "Desired capacity:%d must be between the specified min size:%d and max size:%d", desired, minSize, maxSize)
			}
		} else {
			// As AWS documents: a new min above the current size raises it; a new max
			// below lowers it.
			desired = max(minSize, min(maxSize, desired))
		}
		if q.has("LaunchTemplate") {
			lt, _, err := c.resolveTemplate(q.str("LaunchTemplate", "LaunchTemplateId"), q.str("LaunchTemplate", "LaunchTemplateName"), q.str("LaunchTemplate", "Version"))
			if err != nil {
				return nil, errorf("ValidationError", "%s", err.message)
			}
			g.TemplateID, g.TemplateV = lt.ID, q.str("LaunchTemplate", "Version")
		}
		g.Min, g.Max, g.Desired = minSize, maxSize, desired
		c.reconcile(g)
		return nil, nil
	}
	return nil, &apiError{status: 400, code: "InvalidAction", message: "The action " + action + " is not valid for this web service (the fake does not serve it)."}
}

func (c *Cloud) groupXML(g *Group) *X {
	var members, suspended, tags, tgs []*X
	for _, id := range g.Members {
		members = append(members, E("", T("InstanceId", id), T("AvailabilityZone", "eu-west-1a"), T("LifecycleState", "InService"),
			T("HealthStatus", "Healthy"), T("ProtectedFromScaleIn", "false"), T("InstanceType", "t3.micro")))
	}
	for _, p := range g.Suspended {
		suspended = append(suspended, E("", T("ProcessName", p), T("SuspensionReason", "User suspended at "+isoTime(c.clock()))))
	}
	for _, k := range sortedKeys(g.Tags) {
		tags = append(tags, E("", T("ResourceId", g.Name), T("ResourceType", "auto-scaling-group"), T("Key", k), T("Value", g.Tags[k]), T("PropagateAtLaunch", "false")))
	}
	for _, tg := range g.TargetGroups {
		tgs = append(tgs, T("", tg))
	}
	lt := c.templates[g.TemplateID]
	return E("member",
		T("AutoScalingGroupName", g.Name),
		T("AutoScalingGroupARN", "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/"+g.Name),
		E("LaunchTemplate", T("LaunchTemplateId", lt.ID), T("LaunchTemplateName", lt.Name), T("Version", g.TemplateV)),
		T("MinSize", g.Min), T("MaxSize", g.Max), T("DesiredCapacity", g.Desired), T("DefaultCooldown", 300),
		list("AvailabilityZones", "member", []*X{T("", "eu-west-1a")}),
		T("HealthCheckType", "ELB"), T("HealthCheckGracePeriod", 300),
		list("Instances", "member", members),
		T("CreatedTime", isoTime(c.start)),
		list("SuspendedProcesses", "member", suspended),
		list("Tags", "member", tags),
		list("TargetGroupARNs", "member", tgs),
		T("ServiceLinkedRoleARN", "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"),
	)
}
