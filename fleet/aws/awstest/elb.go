package awstest

import (
	"slices"
	"strconv"
)

// TargetGroup is an ELBv2 target group of instances.
type TargetGroup struct {
	ARN  string
	Port int
	// DrainSteps is how many observations a deregistered target stays draining: the
	// deregistration delay (default Steps).
	DrainSteps int
	targets    map[string]*Target
	order      []string
}

// Target is a registered target and its health.
type Target struct {
	State, Reason string
	left          int
}

func (tg *TargetGroup) drainSteps(c *Cloud) int {
	if tg.DrainSteps > 0 {
		return tg.DrainSteps
	}
	return c.steps()
}

// Rule is an ALB listener rule; only its forward action matters here.
type Rule struct {
	ARN      string
	Priority string
	Actions  []Action
}

// Action is a rule action: a forward to one target group, or a weighted forward.
type Action struct {
	Type           string
	Order          int
	TargetGroupArn string
	Forward        []Weighted
	Sticky         bool
	StickySeconds  int
}

// Weighted is a target group and its weight in a forward action.
type Weighted struct {
	ARN    string
	Weight int
}

// AddTargetGroup creates a target group listening on port 80.
func (c *Cloud) AddTargetGroup(arn string) *TargetGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	tg := &TargetGroup{ARN: arn, Port: 80, targets: map[string]*Target{}}
	c.groups[arn] = tg
	return tg
}

// SetDrainSteps sets how many observations a deregistered target of the group stays
// draining: its deregistration delay.
func (c *Cloud) SetDrainSteps(arn string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.groups[arn].DrainSteps = n
	for _, t := range c.groups[arn].targets {
		if t.State == "draining" {
			t.left = n
		}
	}
}

// Register registers an instance as a healthy target at once (an existing fleet).
func (c *Cloud) Register(arn, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tg := c.groups[arn]
	tg.targets[id] = &Target{State: "healthy"}
	tg.order = append(tg.order, id)
}

// TargetState returns a target's state in a group, "" if it is not registered.
func (c *Cloud) TargetState(arn, id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.groups[arn].targets[id]; ok {
		return t.State
	}
	return ""
}

// Targets returns the IDs registered with a group, draining ones included.
func (c *Cloud) Targets(arn string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, id := range c.groups[arn].order {
		if _, ok := c.groups[arn].targets[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// AddRule creates a listener rule that forwards everything to one target group.
func (c *Cloud) AddRule(arn, forwardTo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules[arn] = &Rule{ARN: arn, Priority: "10", Actions: []Action{{Type: "forward", Order: 1, TargetGroupArn: forwardTo, Forward: []Weighted{{ARN: forwardTo, Weight: 1}}, Sticky: true, StickySeconds: 3600}}}
}

// RuleWeights returns the weights of a rule's forward action by target group.
func (c *Cloud) RuleWeights(arn string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, a := range c.rules[arn].Actions {
		for _, w := range a.Forward {
			out[w.ARN] = w.Weight
		}
	}
	return out
}

// RuleStickySeconds is the group stickiness duration of a rule's forward action, 0
// when stickiness is off.
func (c *Cloud) RuleStickySeconds(arn string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.rules[arn].Actions {
		if a.Type == "forward" && a.Sticky {
			return a.StickySeconds
		}
	}
	return 0
}

// RuleSticky says whether a rule's forward action keeps group stickiness.
func (c *Cloud) RuleSticky(arn string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.rules[arn].Actions {
		if a.Type == "forward" {
			return a.Sticky
		}
	}
	return false
}

// observeTarget moves a target one step: health checks pass or fail, draining ends.
func (c *Cloud) observeTarget(tg *TargetGroup, id string) {
	t := tg.targets[id]
	in := c.instances[id]
	up := in != nil && in.State == "running" && in.Healthy
	switch t.State {
	case "initial":
		if t.left--; t.left > 0 {
			return
		}
		fallthrough
	case "healthy", "unhealthy":
		if up {
			t.State, t.Reason = "healthy", ""
		} else {
			t.State, t.Reason = "unhealthy", "Target.FailedHealthChecks"
		}
	case "draining":
		if t.left--; t.left <= 0 {
			delete(tg.targets, id)
		}
	}
}

func (c *Cloud) elb(action string, q *node) (*X, *apiError) {
	switch action {
	case "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth":
		tg := c.groups[q.str("TargetGroupArn")]
		if tg == nil {
			return nil, errorf("TargetGroupNotFound", "Target groups '%s' not found", q.str("TargetGroupArn"))
		}
		var ids []string
		for _, t := range q.list("Targets") {
			id := t.str("Id")
			if in := c.instances[id]; in == nil || (action == "RegisterTargets" && in.State == "terminated") {
				return nil, errorf("InvalidTarget", "The following targets are not in a running state and cannot be registered: '%s'", id)
			}
			ids = append(ids, id)
		}
		switch action {
		case "RegisterTargets":
			for _, id := range ids {
				if t, ok := tg.targets[id]; ok && t.State != "draining" {
					continue
				}
				tg.targets[id] = &Target{State: "initial", Reason: "Elb.RegistrationInProgress", left: c.steps()}
				if !slices.Contains(tg.order, id) {
					tg.order = append(tg.order, id)
				}
			}
			return nil, nil
		case "DeregisterTargets":
			for _, id := range ids {
				if t, ok := tg.targets[id]; ok && t.State != "draining" {
					t.State, t.Reason, t.left = "draining", "Target.DeregistrationInProgress", tg.drainSteps(c)
				}
			}
			return nil, nil
		}
		return c.describeTargetHealth(tg, ids), nil
	case "DescribeRules":
		var items []*X
		for _, arn := range q.strs("RuleArns") {
			r := c.rules[arn]
			if r == nil {
				return nil, errorf("RuleNotFound", "One or more rules not found")
			}
			items = append(items, ruleXML(r))
		}
		return E("", list("Rules", "member", items)), nil
	case "ModifyRule":
		r := c.rules[q.str("RuleArn")]
		if r == nil {
			return nil, errorf("RuleNotFound", "One or more rules not found")
		}
		if !q.has("Actions") {
			return ruleResult(r), nil
		}
		var actions []Action
		for _, a := range q.list("Actions") {
			act := Action{Type: a.str("Type"), Order: a.int("Order"), TargetGroupArn: a.str("TargetGroupArn")}
			for _, w := range a.list("ForwardConfig", "TargetGroups") {
				weight := 1
				if w.has("Weight") {
					weight = w.int("Weight")
				}
				if weight < 0 || weight > 999 {
					return nil, errorf("ValidationError", "Target group weight must be between 0 and 999")
				}
				act.Forward = append(act.Forward, Weighted{ARN: w.str("TargetGroupArn"), Weight: weight})
			}
			if len(act.Forward) > 1 && act.TargetGroupArn != "" {
				return nil, errorf("ValidationError", "You cannot specify both a target group ARN and a forward config with more than one target group")
			}
			if act.TargetGroupArn != "" && len(act.Forward) == 0 {
				act.Forward = []Weighted{{ARN: act.TargetGroupArn, Weight: 1}}
			}
			if act.Type == "forward" && len(act.Forward) == 0 {
				return nil, errorf("ValidationError", "A forward action needs a target group")
			}
			for _, w := range act.Forward {
				if c.groups[w.ARN] == nil {
					return nil, errorf("TargetGroupNotFound", "Target groups '%s' not found", w.ARN)
				}
			}
			act.Sticky = a.str("ForwardConfig", "TargetGroupStickinessConfig", "Enabled") == "true"
			act.StickySeconds = a.int("ForwardConfig", "TargetGroupStickinessConfig", "DurationSeconds")
			if act.Sticky && (act.StickySeconds < 1 || act.StickySeconds > 604800) {
				return nil, errorf("ValidationError", "Target group stickiness duration must be between 1 and 604800 seconds")
			}
			actions = append(actions, act)
		}
		r.Actions = actions
		return ruleResult(r), nil
	}
	return nil, &apiError{status: 400, code: "InvalidAction", message: "The action " + action + " is not valid for this web service (the fake does not serve it)."}
}

func (c *Cloud) describeTargetHealth(tg *TargetGroup, ids []string) *X {
	var items []*X
	describe := func(id string, t *Target) {
		th := E("TargetHealth", T("State", t.State))
		if t.Reason != "" {
			th.Kids = append(th.Kids, T("Reason", t.Reason))
		}
		items = append(items, E("member", E("Target", T("Id", id), T("Port", tg.Port)), T("HealthCheckPort", strconv.Itoa(tg.Port)), th))
	}
	if len(ids) == 0 {
		for _, id := range slices.Clone(tg.order) {
			if _, ok := tg.targets[id]; ok {
				c.observeTarget(tg, id)
			}
			if t, ok := tg.targets[id]; ok {
				describe(id, t)
			}
		}
	} else {
		for _, id := range ids {
			if _, ok := tg.targets[id]; ok {
				c.observeTarget(tg, id)
			}
			t, ok := tg.targets[id]
			if !ok {
				t = &Target{State: "unused", Reason: "Target.NotRegistered"}
			}
			describe(id, t)
		}
	}
	return E("", list("TargetHealthDescriptions", "member", items))
}

func ruleResult(r *Rule) *X { return E("", list("Rules", "member", []*X{ruleXML(r)})) }

func ruleXML(r *Rule) *X {
	var actions []*X
	for _, a := range r.Actions {
		x := E("member", T("Type", a.Type), T("Order", a.Order))
		if a.TargetGroupArn != "" {
			x.Kids = append(x.Kids, T("TargetGroupArn", a.TargetGroupArn))
		}
		if len(a.Forward) > 0 {
			var tgs []*X
			for _, w := range a.Forward {
				tgs = append(tgs, E("member", T("TargetGroupArn", w.ARN), T("Weight", w.Weight)))
			}
			fc := E("ForwardConfig", list("TargetGroups", "member", tgs))
			if a.Sticky {
				fc.Kids = append(fc.Kids, E("TargetGroupStickinessConfig", T("Enabled", "true"), T("DurationSeconds", a.StickySeconds)))
			}
			x.Kids = append(x.Kids, fc)
		}
		actions = append(actions, x)
	}
	return E("member", T("RuleArn", r.ARN), T("Priority", r.Priority), T("IsDefault", "false"),
		list("Conditions", "member", []*X{E("", T("Field", "path-pattern"), list("Values", "member", []*X{T("", "/*")}))}),
		list("Actions", "member", actions))
}
