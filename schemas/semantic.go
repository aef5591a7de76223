package schemas

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkSemantics holds the rules that relate fields to each other in ways JSON Schema cannot
// say. It runs on a schema-valid spec with defaults filled.
func checkSemantics(s *Spec, lines map[string]int) error {
	var errs []FieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...), Line: lines[path]})
	}

	checkRatios(s, add)

	if n := s.Canary.Instances; n > s.Target.Instances {
		add("canary.instances", "is %d but the fleet has %d instances (target.instances); the canary cannot be larger than the fleet", n, s.Target.Instances)
	}

	// The canary must be judged at least once before it is promoted.
	if soak, every := s.Canary.Soak.D(), s.Canary.Analysis.Interval.D(); soak < every {
		add("canary.soak", "%s is shorter than canary.analysis.interval (%s); the soak must last at least one analysis interval", FormatDuration(soak), FormatDuration(every))
	}

	// Each check judges the samples of its last interval: a step longer than the interval
	// would leave checks without a single sample.
	if step, every := s.Canary.Analysis.Step.D(), s.Canary.Analysis.Interval.D(); step > every {
		add("canary.analysis.step", "%s is longer than canary.analysis.interval (%s); a check takes one sample per step within its interval", FormatDuration(step), FormatDuration(every))
	}

	// A metric whose minSamples no check can reach would leave every check Inconclusive.
	an := s.Canary.Analysis
	most, how := samplesPerCheck(s)
	sampled := an.Provider != AnalysisHealth && an.StepOrDefault() <= an.Interval.D()

	seen := map[string]int{}
	for i, m := range an.Metrics {
		path := "canary.analysis.metrics[" + strconv.Itoa(i) + "]"
		if first, dup := seen[m.Name]; dup {
			add(path+".name", "%q is already the name of canary.analysis.metrics[%d]", m.Name, first)
		} else {
			seen[m.Name] = i
		}
		if m.Min != nil && m.Max != nil && *m.Min > *m.Max {
			add(path+".min", "is %v, more than max (%v): no value could pass", *m.Min, *m.Max)
		}
		if m.Query != "" {
			if err := checkQuery(an.Provider, m.Query); err != nil {
				add(path+".query", "%v", err)
			}
		}
		if sampled && most < m.MinSamples {
			add(path+".minSamples", "is %d, but a check of %s at step %s gives the canary at most %d %s, so every check would be Inconclusive; lengthen canary.analysis.interval, shorten canary.analysis.step or lower minSamples",
				m.MinSamples, FormatDuration(an.Interval.D()), FormatDuration(an.StepOrDefault()), most, how)
		}
	}

	// Zero downtime needs at least one instance serving at every moment of the promotion.
	if u := s.Promote.MaxUnavailable; u > 0 && u >= s.Target.Instances {
		add("promote.maxUnavailable", "is %d but the fleet has %d instances; at least one must keep serving during promotion", u, s.Target.Instances)
	}

	checkTraffic(s, add)
	checkDeploy(s, add)
	checkApproval(s.Canary.Approval, add)
	checkRemind(s.Canary.Approval.Remind, "canary.approval.remind", s.Canary.Approval.Timeout.D(), add)
	if ap := s.Canary.Approval; ap.Remind != nil {
		switch {
		case !ap.Required:
			add("canary.approval.remind", "is set, but canary.approval.required is false: no gate opens to remind of")
		case ap.Remind.Before > 0 && !ap.HasGate(GateAfterSoak):
			add("canary.approval.remind.before", "needs the afterSoak gate: only its opening (the soak's end) can be foreseen")
		}
	}
	checkTimeRules(s.Window, s.Deadline, s.GoNoGo, add)
	checkSigners(s.Canary.Approval, add)

	if a := s.Target.AWS; a != nil {
		// A weighted forward needs both of its target groups, and they must differ.
		switch {
		case a.ListenerRuleArn != "" && a.CanaryTargetGroup == "":
			add("target.aws.canaryTargetGroup", "is required with listenerRuleArn: the rule forwards the canary's share to it")
		case a.CanaryTargetGroup != "" && a.ListenerRuleArn == "":
			add("target.aws.listenerRuleArn", "is required with canaryTargetGroup: its weighted forward gives the canary its share")
		case a.CanaryTargetGroup != "" && len(a.TargetGroups) == 0:
			add("target.aws.targetGroups", "is required with canaryTargetGroup: its first target group takes the stable share")
		case a.CanaryTargetGroup != "" && slices.Contains(a.TargetGroups, a.CanaryTargetGroup):
			add("target.aws.canaryTargetGroup", "is also in targetGroups; the canary target group must be a separate one")
		}
		switch {
		case a.Stickiness > 0 && a.ListenerRuleArn == "":
			add("target.aws.stickiness", "needs listenerRuleArn: it is the stickiness of the rule's weighted forward")
		case a.Stickiness.D() > MaxALBStickiness:
			add("target.aws.stickiness", "is %s; an ALB keeps a client on a target group for at most %s", FormatDuration(a.Stickiness.D()), FormatDuration(MaxALBStickiness))
		case a.Stickiness > 0 && a.Stickiness.D() < time.Second:
			add("target.aws.stickiness", "is %s; an ALB counts stickiness in whole seconds (at least 1s)", FormatDuration(a.Stickiness.D()))
		}
	}

	if len(errs) > 0 {
		return &ValidationError{Errors: sorted(errs)}
	}
	return nil
}

// checkTraffic keeps traffic steps to what a release can do: growing shares, each step
// judged at least once, on a fleet whose balancer can weigh.
func checkTraffic(s *Spec, add func(path, format string, args ...any)) {
	c := s.Canary
	if len(c.Traffic) == 0 {
		if c.StepSoak > 0 {
			add("canary.stepSoak", "is set without canary.traffic; it is the soak of each traffic step")
		}
		return
	}
	for i := 1; i < len(c.Traffic); i++ {
		if c.Traffic[i] <= c.Traffic[i-1] {
			add("canary.traffic["+strconv.Itoa(i)+"]", "is %d, not more than the step before it (%d); each step must give the canary a larger share", c.Traffic[i], c.Traffic[i-1])
		}
	}
	if c.StepSoak > 0 && c.Soak != c.StepSoak*Duration(len(c.Traffic)) {
		add("canary.stepSoak", "is %s for %d steps, which does not add up to canary.soak (%s); set one of them", FormatDuration(c.StepSoak.D()), len(c.Traffic), FormatDuration(c.Soak.D()))
	}
	if step, every := c.StepSoakOrDefault(), c.Analysis.Interval.D(); step < every {
		add("canary.stepSoak", "each of the %d traffic steps soaks %s, shorter than canary.analysis.interval (%s); every step must be checked at least once", len(c.Traffic), FormatDuration(step), FormatDuration(every))
	}
	switch t := s.Target; {
	case t.AWS != nil && t.AWS.ListenerRuleArn == "":
		add("canary.traffic", "needs target.aws.listenerRuleArn and canaryTargetGroup: without a weighted forward the load balancer cannot give the canary a share")
	case t.Provider != ProviderLocal && t.Provider != ProviderHAProxy && t.Provider != ProviderMemory && t.Provider != ProviderAWS:
		add("canary.traffic", "is not supported by the %s provider: it cannot weigh traffic", t.Provider)
	}
}

// checkRatios bounds what the schema cannot: how many checks a soak makes, how many
// samples a check takes, how big a batch written as a string is.
func checkRatios(s *Spec, add func(path, format string, args ...any)) {
	an := s.Canary.Analysis
	every := an.Interval.D()
	if every < MinInterval {
		add("canary.analysis.interval", "is %s; checks run at most once a second (at least %s)", FormatDuration(every), FormatDuration(MinInterval))
	} else {
		if n := s.Canary.Soak.D() / every; n > MaxChecks {
			add("canary.soak", "%s is %d analysis intervals of %s; a soak makes at most %d checks: lengthen canary.analysis.interval or shorten the soak",
				FormatDuration(s.Canary.Soak.D()), n, FormatDuration(every), MaxChecks)
		}
		if n := an.PostPromotion.D() / every; n > MaxChecks {
			add("canary.analysis.postPromotion", "%s is %d analysis intervals of %s; the post-promotion watch makes at most %d checks",
				FormatDuration(an.PostPromotion.D()), n, FormatDuration(every), MaxChecks)
		}
		if step := an.StepOrDefault(); step > 0 && every/step > MaxSamplesPerCheck {
			add("canary.analysis.step", "%s gives %d samples per check of %s; at most %d (Prometheus's limit of points in a range query)",
				FormatDuration(step), every/step, FormatDuration(every), MaxSamplesPerCheck)
		}
	}
	if b := s.Promote.Batch; !strings.HasSuffix(b, "%") && b != "" {
		if n, err := strconv.Atoi(b); err != nil || n > MaxInstances {
			add("promote.batch", "is %s; a batch is at most %d instances", quoteClipped(b), MaxInstances)
		}
	}
}

// samplesPerCheck is the most samples one check can give the canary side, and how
// they come. Prometheus answers a range query with one point per step of the interval;
// Sentry's events-stats one bucket per step.
// The scrape provider takes one sample per pair of successive scrapes of each canary
// instance that ends within the interval; scrapes drift, so one step's pair may fall
// just outside (seen: a 3s interval at 1s steps never reached 3 samples).
func samplesPerCheck(s *Spec) (int, string) {
	a := s.Canary.Analysis
	steps := int(a.Interval.D() / a.StepOrDefault())
	if a.Provider == AnalysisScrape {
		n := s.CanaryCount()
		return max(0, steps-1) * n, fmt.Sprintf("samples (scrape: %d pairs of successive scrapes × %d %s)", max(0, steps-1), n, plural(n, "instance", "instances"))
	}
	if a.Provider == AnalysisSentry {
		return steps, "samples (sentry: one per step in which Sentry heard from the release)"
	}
	return steps, "samples (prometheus: one point per step)"
}

// checkApproval ties approvers to groups and count to the people named, so that a gate
// that could never open, or a typo in a group name, is found before the release starts.
func checkApproval(a Approval, add func(path, format string, args ...any)) {
	used := map[string]bool{}
	for i, e := range a.Approvers {
		g, ok := strings.CutPrefix(e, GroupPrefix)
		if !ok {
			if j := earlierSamePerson(a.Approvers, i); j >= 0 {
				add("canary.approval.approvers["+strconv.Itoa(i)+"]", "%s names the same person as canary.approval.approvers[%d] (%s): people compare regardless of case and surrounding spaces",
					quoteClipped(e), j, quoteClipped(a.Approvers[j]))
			}
			continue
		}
		if _, defined := a.Groups[g]; !defined {
			add("canary.approval.approvers["+strconv.Itoa(i)+"]", "%q names no group of canary.approval.groups", e)
			continue
		}
		used[g] = true
	}
	names := make([]string, 0, len(a.Groups))
	for g := range a.Groups {
		names = append(names, g)
	}
	slices.Sort(names) // one order for the errors, whatever the map's
	for _, g := range names {
		path := joinKey("canary.approval.groups", g)
		if !groupNameRE.MatchString(g) {
			add(path, "is not a group name: use letters, digits, '.', '_' or '-', starting with a letter or digit")
			continue
		}
		if !used[g] {
			add(path, "is never used: add %s%s to canary.approval.approvers", GroupPrefix, g)
		}
		for i, p := range a.Groups[g] {
			if strings.HasPrefix(p, GroupPrefix) {
				add(joinIndex(path, i), "%q: groups hold people, not other groups", p)
			} else if j := earlierSamePerson(a.Groups[g], i); j >= 0 {
				add(joinIndex(path, i), "%s names the same person as %s (%s): people compare regardless of case and surrounding spaces",
					quoteClipped(p), joinIndex(path, j), quoteClipped(a.Groups[g][j]))
			}
		}
	}
	if people := a.People(); len(a.Approvers) > 0 && a.Count > len(people) {
		add("canary.approval.count", "is %d but canary.approval.approvers name only %d %s (%s); the gate could never open",
			a.Count, len(people), plural(len(people), "person", "people"), strings.Join(people, ", "))
	}
}

// groupNameRE is what can follow group: in an approvers entry without ambiguity.
var groupNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
