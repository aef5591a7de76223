package activities

import (
	"context"

	"github.com/zerodown/zerodown/freeze"
)

// FreezeReader tells whether an environment is frozen at this moment for a release,
// change or scheduled run (target, its workflow ID), and what overrides it holds.
type FreezeReader interface {
	FreezeState(ctx context.Context, env, target string) (freeze.State, error)
}

// FreezeStateInput asks whether Environment is frozen now, and whether Target (the
// workflow ID of the release or change asking; may be empty) has an override.
type FreezeStateInput struct {
	Environment string `json:"environment"`
	Target      string `json:"target,omitempty"`
}

// FreezeState says whether the environment is frozen now, until when, why, and whether
// the target may pass. The caller waits for State.Until on a durable timer (or refuses,
// with --no-wait) and asks again: a freeze may be extended or lifted meanwhile. Without a
// reader (tests that freeze nothing) no environment is frozen.
func (a *Activities) FreezeState(ctx context.Context, in FreezeStateInput) (freeze.State, error) {
	if a.Freezes == nil {
		return freeze.State{Environment: in.Environment}, nil
	}
	return a.Freezes.FreezeState(ctx, in.Environment, in.Target)
}
