package activities

// Reading an environment's freezes, for a release or a change about to change its fleet.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/freeze"
)

// Freezes reads freeze workflows through a Temporal client: the worker's FreezeReader
// (Activities.Freezes), set by the worker that owns the client.
type Freezes struct {
	Client client.Client
	// Now is the clock a state is judged at; nil is time.Now.
	Now func() time.Time
}

// FreezeState says whether the environment is frozen now, until when, why, and whether
// the target may pass. An environment nobody ever froze is not frozen. The caller waits
// for State.Until on a durable timer (or refuses, with --no-wait) and asks again: a freeze
// may be extended or lifted meanwhile.
func (f *Freezes) FreezeState(ctx context.Context, env, target string) (freeze.State, error) {
	in := FreezeStateInput{Environment: env, Target: target}
	if err := freeze.CheckEnvironment(in.Environment); err != nil {
		return freeze.State{}, nonRetryable(ErrTypeInvalidConfig, err)
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	v, err := f.Client.QueryWorkflow(ctx, freeze.WorkflowID(in.Environment), "", freeze.QueryFreezes)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return freeze.State{Environment: in.Environment, At: now()}, nil
	}
	if err != nil {
		return freeze.State{}, fmt.Errorf("query the freezes of %s: %w", in.Environment, err)
	}
	var l freeze.Ledger
	if err := v.Get(&l); err != nil {
		return freeze.State{}, fmt.Errorf("read the freezes of %s: %w", in.Environment, err)
	}
	return l.StateAt(now(), in.Target), nil
}
