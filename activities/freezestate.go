package activities

import (
	"context"
	"strings"
	"time"
)

// FreezeReader tells whether an environment is frozen at this moment for a release or
// change (target, its workflow ID), and what overrides that target holds.
type FreezeReader interface {
	FreezeState(ctx context.Context, env, target string) (FreezeStatus, error)
}

// FreezeStateInput asks whether Environment is frozen now for Target.
type FreezeStateInput struct {
	Environment string `json:"environment"`
	Target      string `json:"target,omitempty"`
}

// FreezeStatus is whether an environment is frozen, until when, why, and the target's
// overrides of the freezes in force.
type FreezeStatus struct {
	Frozen bool      `json:"frozen"`
	Until  time.Time `json:"until,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Overridden: every freeze in force holds an override for the target.
	Overridden bool             `json:"overridden,omitempty"`
	Overrides  []FreezeOverride `json:"overrides,omitempty"`
}

// FreezeOverride is who let a target pass one freeze, and why.
type FreezeOverride struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// OverriddenBy names who overrode every freeze in force ("" when not all are): the
// workflow holds them to its approval policy.
func (s FreezeStatus) OverriddenBy() string {
	if !s.Overridden || len(s.Overrides) == 0 {
		return ""
	}
	var by []string
	for _, o := range s.Overrides {
		by = append(by, o.By)
	}
	return strings.Join(by, ", ")
}

// OverrideReason is the overrides' reasons.
func (s FreezeStatus) OverrideReason() string {
	var why []string
	for _, o := range s.Overrides {
		why = append(why, o.Reason)
	}
	return strings.Join(why, "; ")
}

// FreezeState says whether the environment is frozen now for the target.
func (a *Activities) FreezeState(ctx context.Context, in FreezeStateInput) (FreezeStatus, error) {
	if a.Freezes == nil {
		return FreezeStatus{}, nil
	}
	return a.Freezes.FreezeState(ctx, in.Environment, in.Target)
}
