package workflows

// ScheduledRunWorkflow: what a Temporal Schedule starts (zerodown schedule). A Schedule
// starts a workflow with fixed arguments, but a daily release ships the version of the
// day: this workflow resolves it when the run starts (an activity runs the command or
// GETs the URL), checks the environment's freezes, then starts the release (or change)
// as a child with its usual ID and waits for it, so that the Schedule's overlap policy
// sees a run in progress for as long as the release lasts.

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/schemas"
)

// ScheduledRunWorkflowName is the registered name of ScheduledRunWorkflow.
const ScheduledRunWorkflowName = "ScheduledRunWorkflow"

// ScheduleID is the ID of the Temporal Schedule named name: schedule/<name>.
func ScheduleID(name string) string { return "schedule/" + name }

// What a scheduled run does when the environment is frozen.
const (
	InFreezeWait = "wait" // wait for the freeze to lift, on a durable timer
	InFreezeSkip = "skip" // end the run as Skipped
)

// Outcomes of a scheduled run besides the child's phase.
const (
	ScheduledSkipped = "Skipped"
	// ErrTypeScheduledRun is the error type of a run that could not start its child.
	ErrTypeScheduledRun = "ScheduledRunFailed"
)

// VersionSource says where a scheduled release's version comes from: exactly one of
// Fixed, Command (argv, no shell) and URL.
type VersionSource struct {
	Fixed   string        `json:"fixed,omitempty"`
	Command []string      `json:"command,omitempty"`
	URL     string        `json:"url,omitempty"`
	Env     []string      `json:"env,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// ScheduledRunInput is the fixed argument a Schedule starts every run with: exactly one
// of Release (its Version empty: the source gives it) and Change.
type ScheduledRunInput struct {
	Schedule string        `json:"schedule"`
	Release  *ReleaseInput `json:"release,omitempty"`
	Change   *ChangeInput  `json:"change,omitempty"`
	Version  VersionSource `json:"version"`
	InFreeze string        `json:"inFreeze,omitempty"` // InFreezeWait (default) or InFreezeSkip
}

// ScheduledRun is what the run's status query and result say.
type ScheduledRun struct {
	Schedule    string `json:"schedule"`
	Target      string `json:"target"` // the child's workflow ID
	Version     string `json:"version,omitempty"`
	VersionFrom string `json:"versionFrom,omitempty"`
	// Frozen says what freeze the run waited for or was skipped by.
	Frozen  string `json:"frozen,omitempty"`
	Outcome string `json:"outcome,omitempty"` // the child's final phase, or Skipped
	Error   string `json:"error,omitempty"`
}

// ScheduledRunWorkflow resolves the version, checks the freezes and runs the release or
// change to its end.
func ScheduledRunWorkflow(ctx workflow.Context, in ScheduledRunInput) (ScheduledRun, error) {
	run := ScheduledRun{Schedule: in.Schedule}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ScheduledRun, error) { return run, nil }); err != nil {
		return run, err
	}
	env, err := scheduledTarget(in, &run)
	if err != nil {
		return run, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
	}
	if in.Release != nil {
		if err := resolveVersion(ctx, in, &run); err != nil {
			run.Error = err.Error()
			return run, err
		}
	}
	if skipped, err := waitOutFreezes(ctx, in, env, &run); err != nil || skipped {
		return run, err
	}
	return runChild(ctx, in, &run)
}

// scheduledTarget checks the input and names the child and its environment.
func scheduledTarget(in ScheduledRunInput, run *ScheduledRun) (string, error) {
	switch {
	case (in.Release == nil) == (in.Change == nil):
		return "", errors.New("a scheduled run starts a release or a change, exactly one")
	case in.InFreeze != "" && in.InFreeze != InFreezeWait && in.InFreeze != InFreezeSkip:
		return "", fmt.Errorf("inFreeze: %q is neither %s nor %s", clipped(in.InFreeze), InFreezeWait, InFreezeSkip)
	case in.Change != nil:
		run.Target = schemas.ChangeID(in.Change.Spec.Name)
		return in.Change.Spec.Environment, nil
	}
	v := in.Version
	sources := 0
	for _, set := range []bool{v.Fixed != "", len(v.Command) > 0, v.URL != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return "", errors.New("version: say it (fixed), or the command or the URL that prints it: exactly one")
	}
	run.Target = in.Release.Spec.ID()
	return in.Release.Spec.Environment, nil
}

// resolveVersion sets the run's version: the fixed one, or what the source prints now.
func resolveVersion(ctx workflow.Context, in ScheduledRunInput, run *ScheduledRun) error {
	v := in.Version
	if v.Fixed != "" {
		run.Version, run.VersionFrom = v.Fixed, "fixed"
		return nil
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = activities.DefaultVersionTimeout
	}
	o := longOptions(timeout + time.Minute)
	o.RetryPolicy.MaximumAttempts = 3
	var got activities.ResolvedVersion
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), a.ResolveVersion, activities.ResolveVersionInput{
		Schedule: in.Schedule, Command: v.Command, URL: v.URL, Env: v.Env, Timeout: timeout,
	}).Get(ctx, &got)
	if err != nil {
		return fmt.Errorf("resolve the version: %w", err)
	}
	run.Version, run.VersionFrom = got.Version, got.From
	return nil
}

// waitOutFreezes asks the environment's freezes before anything starts: frozen, the run
// waits for the end of the freeze or ends Skipped, as the schedule says.
func waitOutFreezes(ctx workflow.Context, in ScheduledRunInput, env string, run *ScheduledRun) (bool, error) {
	st, err := awaitThaw(ctx, env, run.Target, in.InFreeze == InFreezeSkip, func(st freeze.State) {
		run.Frozen = fmt.Sprintf("%s frozen until %s by %s: %s", env, stamp(st.Until), st.By, st.Reason)
	})
	if err != nil {
		return false, err
	}
	if st.Frozen && !st.Overridden {
		run.Outcome = ScheduledSkipped
		return true, nil
	}
	return false, nil
}

// runChild starts the release or change with its usual ID and waits for its end. The
// child is abandoned if this run goes away: a release is never stopped half-way because
// its schedule was deleted.
func runChild(ctx workflow.Context, in ScheduledRunInput, run *ScheduledRun) (ScheduledRun, error) {
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            run.Target,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	}
	var (
		name string
		arg  any
	)
	startedBy := ScheduleID(in.Schedule)
	if r := in.Release; r != nil {
		rel := *r
		rel.Version = run.Version
		if rel.StartedBy == "" {
			rel.StartedBy = startedBy
		}
		note := fmt.Sprintf("scheduled by %s: version %s from %s", startedBy, run.Version, run.VersionFrom)
		rel.Changelog = note + orEmpty("\n\n", rel.Changelog)
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(SAService).ValueSet(rel.Spec.Service),
			temporal.NewSearchAttributeKeyKeyword(SAEnvironment).ValueSet(rel.Spec.Environment),
			temporal.NewSearchAttributeKeyKeyword(SAVersion).ValueSet(rel.Version),
			temporal.NewSearchAttributeKeyKeyword(SAPhase).ValueSet(string(PhasePlanning)),
		)
		opts.StaticSummary = fmt.Sprintf("release %s %s to %s (%s)", rel.Spec.Service, rel.Version, rel.Spec.Environment, startedBy)
		name, arg = ReleaseWorkflowName, rel
	} else {
		ch := *in.Change
		if ch.StartedBy == "" {
			ch.StartedBy = startedBy
		}
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(SAChange).ValueSet(ch.Spec.Name),
			temporal.NewSearchAttributeKeyKeyword(SAEnvironment).ValueSet(ch.Spec.Environment),
		)
		opts.StaticSummary = fmt.Sprintf("change %s in %s (%s)", ch.Spec.Name, ch.Spec.Environment, startedBy)
		name, arg = ChangeWorkflowName, ch
	}
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), name, arg)
	var phase struct {
		Phase Phase `json:"phase"`
	}
	err := child.Get(ctx, &phase)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		run.Outcome = string(phase.Phase)
		return *run, nil
	case errors.As(err, &app) && app.HasDetails() && app.Details(&phase) == nil && phase.Phase != "":
		run.Outcome, run.Error = string(phase.Phase), app.Message()
	default:
		run.Error = err.Error()
	}
	return *run, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", run.Target, run.Error), ErrTypeScheduledRun, nil, *run)
}
