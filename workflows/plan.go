package workflows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zerodown/zerodown/schemas"
)

// Plan is the shape of a release: how many canaries, then which batches. It is a pure
// function of the spec and the current fleet, shared by `zerodown plan` and the workflow
// so that what the plan prints is what the release does.
type Plan struct {
	Strategy string  `json:"strategy"`
	Desired  int     `json:"desired"`
	Old      int     `json:"old"` // old-version instances serving when the release starts
	Canary   int     `json:"canary"`
	Batches  []Batch `json:"batches"`
}

// Batch is one promote step: launch Launch new instances, attach them, then detach old
// instances until OldAttached remain.
type Batch struct {
	Launch      int `json:"launch"`
	NewAttached int `json:"newAttached"`
	OldAttached int `json:"oldAttached"`
}

// NewPlan computes the plan for a spec when old instances of the previous version serve.
// It allocates per batch, never per instance: a validated spec (schemas.Validate) has at
// most schemas.MaxInstances instances, so at most that many batches. A spec beyond the
// maxima (one that skipped validation) still gets at most that many, with larger batches,
// rather than taking the process's memory.
func NewPlan(spec schemas.Spec, old int) Plan {
	desired := max(0, spec.Target.Instances)
	p := Plan{Strategy: spec.Promote.Strategy, Desired: desired, Old: old, Canary: spec.CanaryCount()}
	remaining := max(0, desired-p.Canary)
	newAttached := p.Canary
	if spec.Promote.Strategy == schemas.StrategyBlueGreen {
		p.Batches = []Batch{{Launch: remaining, NewAttached: desired, OldAttached: 0}}
		return p
	}
	size := BatchSize(spec)
	if ceilDiv(remaining, size) > schemas.MaxInstances {
		size = ceilDiv(remaining, schemas.MaxInstances)
	}
	p.Batches = make([]Batch, 0, max(1, ceilDiv(remaining, size)))
	for remaining > 0 {
		n := min(size, remaining)
		remaining -= n
		newAttached += n
		p.Batches = append(p.Batches, Batch{Launch: n, NewAttached: newAttached, OldAttached: min(old, max(0, desired-newAttached))})
	}
	if len(p.Batches) == 0 {
		// Every new instance is a canary: one step just retires the old fleet.
		p.Batches = []Batch{{NewAttached: newAttached}}
	}
	return p
}

// BatchSize is the promote batch as a count: "2" or "25%" of the fleet rounded up, at
// least one. The arithmetic cannot overflow, whatever the spec holds.
func BatchSize(spec schemas.Spec) int {
	b := strings.TrimSpace(spec.Promote.BatchOrDefault())
	desired := max(0, spec.Target.Instances)
	if pct, ok := strings.CutSuffix(b, "%"); ok {
		v, _ := strconv.Atoi(pct)
		return max(1, schemas.CeilPercent(desired, min(max(v, 0), 100)))
	}
	v, _ := strconv.Atoi(b)
	return max(1, v)
}

// ceilDiv is n/d rounded up, for n ≥ 0 and d ≥ 1, without overflow.
func ceilDiv(n, d int) int {
	q := n / d
	if n%d != 0 {
		q++
	}
	return q
}

// Steps describes the plan in words, one line a step, as `zerodown plan` prints it.
func (p Plan) Steps(spec schemas.Spec, version, oldVersion string) []string {
	if oldVersion == "" {
		oldVersion = "(none)"
	}
	if spec.InPlace() {
		return inPlaceSteps(spec, version, oldVersion)
	}
	var s []string
	s = append(s, fmt.Sprintf("plan: %s/%s %s -> %s on %s, %d old instance(s) serving, %d wanted",
		spec.Service, spec.Environment, oldVersion, version, spec.Target.Provider, p.Old, p.Desired))
	if spec.Bake.Method != schemas.BakeNone && spec.Bake.Method != "" {
		s = append(s, fmt.Sprintf("bake: build an image for %s with %s", version, spec.Bake.Method))
	}
	s = append(s, fmt.Sprintf("canary: launch %d x %s, wait healthy, run %d preTraffic hook(s), attach", p.Canary, version, len(spec.Hooks.PreTraffic)))
	s = append(s, fmt.Sprintf("soak: %s, check every %s (%s), roll back after %d failed check(s)",
		spec.Canary.Soak.D(), spec.Canary.Analysis.Interval.D(), spec.Canary.Analysis.Provider, spec.Canary.Analysis.FailureLimit))
	if a := spec.Canary.Approval; a.Required {
		who := "anyone"
		if len(a.Approvers) > 0 {
			who = strings.Join(a.Approvers, ", ")
		}
		s = append(s, fmt.Sprintf("approval: wait up to %s for %s, then %s", a.Timeout.D(), who, a.OnTimeout))
	}
	for i, b := range p.Batches {
		line := fmt.Sprintf("batch %d/%d: launch %d x %s, wait healthy, attach; detach old down to %d (serving: %d new + %d old)",
			i+1, len(p.Batches), b.Launch, version, b.OldAttached, b.NewAttached, b.OldAttached)
		if p.Strategy == schemas.StrategyBlueGreen {
			line = fmt.Sprintf("bluegreen: launch %d x %s, wait healthy, then flip all traffic at once; keep the old fleet %s for instant rollback",
				b.Launch, version, spec.Promote.KeepOld.D())
		}
		s = append(s, line)
	}
	if n := len(spec.Hooks.PostPromote); n > 0 {
		s = append(s, fmt.Sprintf("postPromote: run %d hook(s); a failure rolls back", n))
	}
	mig := ""
	if spec.Drain.SessionMigration != nil {
		mig = fmt.Sprintf("ask them to migrate sessions (%s), ", spec.Drain.SessionMigration.Path)
	}
	s = append(s, fmt.Sprintf("drain: %swait for open connections to reach 0 (at most %s), terminate %d old instance(s)", mig, spec.Drain.Timeout.D(), p.Old))
	return s
}
