package workflows

// FreezeWorkflow: one long-running workflow per environment (ID freeze/<env>) holding its
// freezes. People declare, lift, extend and override freezes with updates, each checked
// by a validator before it is accepted, so the history says who froze what; releases and
// changes read it through the FreezeState activity. The rules are the freeze package's
// pure functions, run at workflow time.

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/freeze"
)

// FreezeWorkflowName is the registered name of FreezeWorkflow.
const FreezeWorkflowName = freeze.WorkflowName

// DefaultFreezeHistory is how many history events one run of a freeze workflow keeps
// before it continues as new (each update adds about five).
const DefaultFreezeHistory = 2000

// FreezeWorkflowID is the workflow ID of the freezes of env: freeze/<env>.
func FreezeWorkflowID(env string) string { return freeze.WorkflowID(env) }

// FreezeInput starts (or continues) the freeze workflow of an environment.
type FreezeInput struct {
	Environment string `json:"environment"`
	// Ledger is set when the workflow continues as new.
	Ledger *freeze.Ledger `json:"ledger,omitempty"`
	// MaxHistory bounds one run's history; 0 means DefaultFreezeHistory.
	MaxHistory int `json:"maxHistory,omitempty"`
}

// FreezeWorkflow holds the freezes of one environment, forever: it drops the ones that
// end and continues as new when its history grows.
func FreezeWorkflow(ctx workflow.Context, in FreezeInput) error {
	if err := freeze.CheckEnvironment(in.Environment); err != nil {
		return err
	}
	if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != FreezeWorkflowID(in.Environment) {
		return fmt.Errorf("workflow ID %q does not match the environment: the freezes of %s live in %q", clipped(id), in.Environment, FreezeWorkflowID(in.Environment))
	}
	l := in.Ledger
	if l == nil {
		l = &freeze.Ledger{Environment: in.Environment}
	}
	changed := false
	now := func() time.Time { return workflow.Now(ctx) }
	if err := registerFreezeHandlers(ctx, l, now, func() { changed = true }); err != nil {
		return err
	}
	maxHistory := in.MaxHistory
	if maxHistory <= 0 {
		maxHistory = DefaultFreezeHistory
	}
	tooLong := func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= maxHistory
	}
	for {
		changed = false
		wake := func() bool { return changed || tooLong() }
		if next := l.NextEnd(now()); next.IsZero() {
			if err := workflow.Await(ctx, wake); err != nil {
				return err
			}
		} else if _, err := workflow.AwaitWithTimeout(ctx, next.Sub(now()), wake); err != nil {
			return err
		}
		l.Expire(now())
		if tooLong() {
			// Updates accepted but not yet applied would be lost with the run.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			next := in
			next.Ledger = l
			return workflow.NewContinueAsNewError(ctx, FreezeWorkflowName, next)
		}
	}
}

// registerFreezeHandlers sets up the query and the updates, in a fixed order.
func registerFreezeHandlers(ctx workflow.Context, l *freeze.Ledger, now func() time.Time, changed func()) error {
	if err := workflow.SetQueryHandler(ctx, freeze.QueryFreezes, func() (freeze.Ledger, error) {
		out := *l
		out.Freezes = l.Upcoming(now())
		return out, nil
	}); err != nil {
		return err
	}
	if err := setFreezeUpdate(ctx, freeze.UpdateDeclare,
		func(r freeze.DeclareRequest) error { return l.CheckDeclare(r, now()) },
		func(r freeze.DeclareRequest) string {
			f := l.Declare(r, now())
			changed()
			return fmt.Sprintf("declared %s: %s frozen from %s until %s", f.ID, l.Environment, stamp(f.From), stamp(f.Until))
		}); err != nil {
		return err
	}
	if err := setFreezeUpdate(ctx, freeze.UpdateLift,
		func(r freeze.LiftRequest) error { return l.CheckLift(r) },
		func(r freeze.LiftRequest) string {
			f := l.Lift(r, now())
			changed()
			return fmt.Sprintf("lifted %s (declared by %s)", f.ID, f.By)
		}); err != nil {
		return err
	}
	if err := setFreezeUpdate(ctx, freeze.UpdateExtend,
		func(r freeze.ExtendRequest) error { return l.CheckExtend(r, now()) },
		func(r freeze.ExtendRequest) string {
			f := l.Extend(r, now())
			changed()
			return fmt.Sprintf("%s now ends %s", f.ID, stamp(f.Until))
		}); err != nil {
		return err
	}
	return setFreezeUpdate(ctx, freeze.UpdateOverride,
		func(r freeze.OverrideRequest) error { return l.CheckOverride(r, now()) },
		func(r freeze.OverrideRequest) string {
			ids := l.Override(r, now())
			changed()
			return fmt.Sprintf("%s may pass %s (override by %s)", r.Target, strings.Join(ids, ", "), r.By)
		})
}

// setFreezeUpdate registers one update with its validator. Freezes take no signals:
// whoever freezes an environment wants to know it took.
func setFreezeUpdate[T any](ctx workflow.Context, name string, validate func(T) error, apply func(T) string) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, name,
		func(_ workflow.Context, req T) (string, error) { return apply(req), nil },
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req T) error { return validate(req) }})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
