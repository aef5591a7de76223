package schemas

import (
	"fmt"
	"slices"
	"strings"
)

// The approval policy as the workflow applies it. These are pure functions of the spec so
// that workflow code (validators included) can call them deterministically, and so that
// the CLI, the Slack bridge and the workflow word a refusal the same way.
//
// People are compared without regard to case or surrounding spaces: "Alice" approving a
// release started by "alice" is the same person, and four-eyes must not be dodged by case.

// SamePerson reports whether two identities name the same person.
func SamePerson(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// earlierSamePerson is the index of an entry before i in people that names the same person
// as people[i], or -1. Group entries (group:<name>) are not people and match nothing.
func earlierSamePerson(people []string, i int) int {
	if strings.HasPrefix(people[i], GroupPrefix) {
		return -1
	}
	for j := range i {
		if !strings.HasPrefix(people[j], GroupPrefix) && SamePerson(people[i], people[j]) {
			return j
		}
	}
	return -1
}

// RequiredApprovals is how many distinct people must approve at each gate: Count, or 1
// for specs written before Count existed.
func (a Approval) RequiredApprovals() int {
	return max(1, a.Count)
}

// HasGate reports whether the release waits for approval at gate (GateAfterSoak,
// GateBeforeLastBatch). Without Required there is no gate; without Gates (specs written
// before gates existed) the only gate is after the soak.
func (a Approval) HasGate(gate string) bool {
	if !a.Required {
		return false
	}
	if len(a.Gates) == 0 {
		return gate == GateAfterSoak
	}
	return slices.Contains(a.Gates, gate)
}

// People lists who may approve, with groups expanded, in the order written and without
// repeats; nil means anyone may.
func (a Approval) People() []string {
	var out []string
	add := func(p string) {
		if !slices.ContainsFunc(out, func(q string) bool { return SamePerson(p, q) }) {
			out = append(out, p)
		}
	}
	for _, e := range a.Approvers {
		if g, ok := strings.CutPrefix(e, GroupPrefix); ok {
			for _, p := range a.Groups[g] {
				add(p)
			}
			continue
		}
		add(e)
	}
	return out
}

// Eligible reports whether who is one of the approvers, directly or through a group;
// anyone is when the spec lists none.
func (a Approval) Eligible(who string) bool {
	if len(a.Approvers) == 0 {
		return true
	}
	return slices.ContainsFunc(a.People(), func(p string) bool { return SamePerson(p, who) })
}

// ApproversLabel describes the approvers for people: "alice, group:sre (bob, carol)",
// or "anyone".
func (a Approval) ApproversLabel() string {
	if len(a.Approvers) == 0 {
		return "anyone"
	}
	parts := make([]string, len(a.Approvers))
	for i, e := range a.Approvers {
		parts[i] = e
		if g, ok := strings.CutPrefix(e, GroupPrefix); ok && len(a.Groups[g]) > 0 {
			parts[i] += " (" + strings.Join(a.Groups[g], ", ") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// CheckActor refuses who when approvers are listed and who is not one of them; what is
// the action ("approve", "promote") and release the release's ID, for the message.
func (a Approval) CheckActor(release, who, what string) error {
	if a.Eligible(who) {
		return nil
	}
	return fmt.Errorf("%s may not %s %s: approvers are %s", who, what, release, a.ApproversLabel())
}

// CheckApprove is the approval policy for one approve request at an open gate: by must be
// an approver, must not have started the release when fourEyes is set, and must not have
// approved this gate already (approvedBy lists who has). It does not check that a gate is
// open or that by is set: the workflow knows that.
func (a Approval) CheckApprove(release, by, startedBy string, approvedBy []string) error {
	if err := a.CheckActor(release, by, "approve"); err != nil {
		return err
	}
	if a.FourEyes {
		if strings.TrimSpace(startedBy) == "" {
			return fmt.Errorf("%s cannot be approved: canary.approval.fourEyes is set but the release does not say who started it", release)
		}
		if SamePerson(by, startedBy) {
			return fmt.Errorf("%s started %s and may not approve it too (canary.approval.fourEyes)", by, release)
		}
	}
	if slices.ContainsFunc(approvedBy, func(p string) bool { return SamePerson(p, by) }) {
		return fmt.Errorf("%s already approved %s (%d of %d approvals)", by, release, len(approvedBy), a.RequiredApprovals())
	}
	return nil
}
