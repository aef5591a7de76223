package workflows_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// A change runs real child releases and real commands (sh) against two in-memory fleets,
// with time skipping.

type changeHarness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	fleets map[string]*memory.Fleet
	dir    string // where the commands of the change write what they did
}

func newChangeHarness(t *testing.T) *changeHarness {
	return newChangeHarnessTelling(t, nil)
}

// newChangeHarnessTelling is newChangeHarness whose worker tells people through n.
func newChangeHarnessTelling(t *testing.T, n notify.Notifier) *changeHarness {
	h := &changeHarness{t: t, env: newEnv(), fleets: map[string]*memory.Fleet{}, dir: t.TempDir()}
	for _, name := range []string{"api", "web"} {
		f := memory.New()
		f.Seed("v1", 2)
		h.fleets[name] = f
	}
	factory := func(tg schemas.Target) (fleet.Fleet, error) { return h.fleets[tg.Memory.Fleet], nil }
	h.env.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	h.env.RegisterWorkflowWithOptions(workflows.ChangeWorkflow, workflow.RegisterOptions{Name: workflows.ChangeWorkflowName})
	acts := activities.New(fleet.Registry{schemas.ProviderMemory: factory}, nil)
	acts.Notifier = n
	h.env.RegisterActivity(acts)
	return h
}

func releaseSpec(service string) *schemas.Spec {
	return &schemas.Spec{
		Service: service, Environment: "prod",
		Target: schemas.Target{Provider: schemas.ProviderMemory, Instances: 2, Memory: &schemas.MemorySpec{Fleet: service}},
		Bake:   schemas.Bake{Method: schemas.BakeNone},
		Canary: schemas.Canary{Instances: 1, Soak: schemas.Duration(30 * time.Minute),
			Analysis: schemas.Analysis{Interval: schemas.Duration(time.Minute), Provider: schemas.AnalysisHealth, FailureLimit: 2}},
		Promote:  schemas.Promote{Strategy: schemas.StrategyRolling, Batch: "1"},
		Drain:    schemas.Drain{Timeout: schemas.Duration(time.Minute)},
		Rollback: schemas.Rollback{Automatic: true},
	}
}

// sh is a command step that appends its name to the change's log file.
func (h *changeHarness) sh(word string) []string {
	return []string{"sh", "-c", "echo " + word + " >> " + filepath.Join(h.dir, "log")}
}

func (h *changeHarness) log() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "log"))
	return string(b)
}

// night is 004's night, small: backup beside expand, the back end, its sanity test,
// the front end, landing tests by people, then the contract.
func (h *changeHarness) night() schemas.ChangeSpec {
	return schemas.ChangeSpec{
		Name: "night", Environment: "prod", HoldTimeout: schemas.Duration(12 * time.Hour),
		Steps: []schemas.Step{
			{ID: "backup", Command: &schemas.CommandStep{Run: h.sh("backup"), Undo: h.sh("restore")}},
			{ID: "expand", Migration: &schemas.MigrationStep{Expand: h.sh("expand"), Undo: h.sh("unexpand"), Contract: h.sh("contract"), ContractAfter: []string{"api", "web"}}},
			{ID: "api", After: []string{"expand", "backup"}, Release: &schemas.ReleaseStep{File: "api.yaml", Spec: releaseSpec("api"), Version: "v2"}},
			{ID: "api-sanity", After: []string{"api"}, Check: &schemas.CheckStep{Command: []string{"true"}}},
			{ID: "web", After: []string{"api-sanity"}, Release: &schemas.ReleaseStep{File: "web.yaml", Spec: releaseSpec("web"), Version: "v2"}},
			{ID: "landing", After: []string{"web"}, Confirm: &schemas.ConfirmStep{Approvers: []string{"client"}, Checklist: []string{"orders", "invoices"}, Timeout: schemas.Duration(3 * time.Hour)}},
		},
	}
}

func (h *changeHarness) confirm(step, by string, delay time.Duration, answers map[string]bool) *updateResult {
	res := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateConfirm, "", res.callbacks(), workflows.ConfirmRequest{Step: step, By: by, Checklist: answers})
	}, delay)
	return res
}

func (h *changeHarness) run(spec schemas.ChangeSpec) (workflows.ChangeStatus, error) {
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: schemas.ChangeID(spec.Name)})
	h.env.ExecuteWorkflow(workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: spec, StartedBy: "dba"})
	require.True(h.t, h.env.IsWorkflowCompleted())
	var st workflows.ChangeStatus
	err := h.env.GetWorkflowError()
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&st))
		return st, nil
	}
	var app *temporal.ApplicationError
	require.ErrorAs(h.t, err, &app)
	require.NoError(h.t, app.Details(&st))
	return st, err
}

func (h *changeHarness) fleetOn(name, version string) {
	st, err := h.fleets[name].Describe(context.Background())
	require.NoError(h.t, err)
	require.Len(h.t, st.Instances, 2, "%s: %+v", name, st.Instances)
	for _, in := range st.Instances {
		require.Equal(h.t, version, in.Version, "%s instance %s", name, in.ID)
		require.True(h.t, in.Attached && in.Healthy, "%s instance %s serves", name, in.ID)
	}
}

func states(st workflows.ChangeStatus) map[string]workflows.StepState {
	out := map[string]workflows.StepState{}
	for _, s := range st.Steps {
		out[s.ID] = s.State
	}
	return out
}

var all = map[string]bool{"orders": true, "invoices": true}

func TestChangeSucceeds(t *testing.T) {
	h := newChangeHarness(t)
	partial := h.confirm("landing", "client", 2*time.Hour, map[string]bool{"orders": true})
	stranger := h.confirm("landing", "mallory", 2*time.Hour, all)
	ok := h.confirm("landing", "client", 2*time.Hour+time.Minute, all)
	st, err := h.run(h.night())
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.ErrorContains(t, partial.rejected, "invoices not confirmed")
	require.ErrorContains(t, stranger.rejected, "mallory may not approve")
	require.NoError(t, ok.rejected)
	require.Equal(t, map[string]workflows.StepState{
		"backup": workflows.StepDone, "expand": workflows.StepDone, "api": workflows.StepFinalized,
		"api-sanity": workflows.StepDone, "web": workflows.StepFinalized, "landing": workflows.StepDone,
	}, states(st))
	exp, _ := st.Step("expand")
	require.Equal(t, "done", exp.Contract)
	h.fleetOn("api", "v2")
	h.fleetOn("web", "v2")
	// The contract ran last, after both fleets had only v2 left.
	require.Regexp(t, `^(backup\nexpand\n|expand\nbackup\n)contract\n$`, h.log())
}

func TestChangeRollsBackInReverseWhenACheckFails(t *testing.T) {
	h := newChangeHarness(t)
	spec := h.night()
	spec.Steps[3].Check = &schemas.CheckStep{Command: []string{"false"}, Retries: 2}
	st, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, workflows.PhaseRolledBack, st.Phase)
	require.Equal(t, "api-sanity", st.FailedStep)
	require.Contains(t, st.Reason, "3 tries failed")
	require.Equal(t, map[string]workflows.StepState{
		"backup": workflows.StepRolledBack, "expand": workflows.StepRolledBack, "api": workflows.StepRolledBack,
		"api-sanity": workflows.StepFailed, "web": workflows.StepSkipped, "landing": workflows.StepSkipped,
	}, states(st))
	h.fleetOn("api", "v1")
	h.fleetOn("web", "v1")
	// Undone in the reverse order of what was done (backup and expand ran side by side, so
	// the timeline says which finished first); the contract never ran.
	var done []string
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindStepDone {
			done = append(done, strings.Fields(e.Message)[0])
		}
	}
	undo := map[string]string{"backup": "restore", "expand": "unexpand"}
	require.Equal(t, []string{undo[done[1]], undo[done[0]]}, strings.Fields(h.log())[2:])
	require.NotContains(t, h.log(), "contract")
}

func TestChangeRollsBackWhenAReleaseFails(t *testing.T) {
	h := newChangeHarness(t)
	h.fleets["web"].SetUnhealthy("v2", true)
	st, err := h.run(h.night())
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, "web", st.FailedStep)
	web, _ := st.Step("web")
	require.Contains(t, web.Message, "release/web/prod")
	require.Equal(t, workflows.StepFailed, web.State)
	require.Equal(t, workflows.StepRolledBack, states(st)["api"], "the back end goes back too")
	h.fleetOn("api", "v1")
	h.fleetOn("web", "v1")
}

func TestChangeRollsBackWhenACommandFails(t *testing.T) {
	h := newChangeHarness(t)
	spec := h.night()
	spec.Steps[0].Command.Run = []string{"sh", "-c", "echo disk full >&2; exit 3"}
	st, err := h.run(spec)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, "backup", st.FailedStep)
	require.Contains(t, st.Reason, "disk full")
	require.Equal(t, workflows.StepSkipped, states(st)["api"], "nothing after the backup started")
	require.NotContains(t, h.log(), "restore", "a backup that failed is not restored")
	h.fleetOn("api", "v1")
}

func TestChangeRollsBackWhenAnExpandFails(t *testing.T) {
	h := newChangeHarness(t)
	spec := h.night()
	spec.Steps[1].Migration.Expand = []string{"false"}
	st, err := h.run(spec)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, "expand", st.FailedStep)
	require.NotContains(t, h.log(), "unexpand", "an expand that did not happen is not undone")
	exp, _ := st.Step("expand")
	require.Empty(t, exp.Contract)
}

func TestChangeRejected(t *testing.T) {
	h := newChangeHarness(t)
	res := &updateResult{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateReject, "", res.callbacks(), workflows.RejectRequest{Step: "landing", By: "client", Reason: "invoices are wrong"})
	}, 2*time.Hour)
	st, err := h.run(h.night())
	require.NoError(t, res.rejected)
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Equal(t, "landing", st.FailedStep)
	require.Contains(t, st.Reason, "rejected by client: invoices are wrong")
	require.Equal(t, workflows.StepRolledBack, states(st)["web"])
	require.Equal(t, workflows.StepRolledBack, states(st)["api"])
	h.fleetOn("api", "v1")
	h.fleetOn("web", "v1")
}

func TestChangeConfirmTimesOut(t *testing.T) {
	h := newChangeHarness(t)
	st, err := h.run(h.night())
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.Contains(t, st.Reason, "no confirmation within 3h0m0s")
	h.fleetOn("web", "v1")

	// With onTimeout: confirm, silence is consent.
	h = newChangeHarness(t)
	spec := h.night()
	spec.Steps[5].Confirm.OnTimeout = schemas.OnTimeoutConfirm
	st, err = h.run(spec)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	h.fleetOn("web", "v2")
}

func TestChangeAbortedWhileAReleaseSoaks(t *testing.T) {
	h := newChangeHarness(t)
	res := &updateResult{}
	// The back end's canary soaks for 30 minutes from about the start.
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(workflows.UpdateAbort, "", res.callbacks(), workflows.AbortRequest{By: "lead", Reason: "call centre opens early"})
	}, 10*time.Minute)
	st, err := h.run(h.night())
	require.NoError(t, res.rejected)
	require.Equal(t, workflows.ErrTypeAborted, errType(err))
	require.Equal(t, "lead", st.AbortedBy)
	require.Equal(t, workflows.StepCancelled, states(st)["api"])
	api, _ := st.Step("api")
	require.Contains(t, api.Message, "aborted by change/night")
	require.Equal(t, workflows.StepRolledBack, states(st)["backup"])
	h.fleetOn("api", "v1")
	require.Contains(t, h.log(), "restore")
}

// The contract waits for the fleet, not for a promise: an old instance still alive (here
// one that was out of the load balancer, so the release never counted it) keeps it from
// running, and the change ends Failed with what to do by hand.
func TestChangeContractRefusedWhileAnOldInstanceLives(t *testing.T) {
	h := newChangeHarness(t)
	stray := h.fleets["api"].Seed("v1", 1)[0]
	require.NoError(t, h.fleets["api"].Detach(context.Background(), []string{stray.ID}))
	h.confirm("landing", "client", 2*time.Hour, all)
	st, err := h.run(h.night())
	require.Equal(t, workflows.ErrTypeFailed, errType(err))
	exp, _ := st.Step("expand")
	require.Contains(t, exp.Contract, "refused: release/api/prod still has instance "+stray.ID+" of v1 alive")
	require.Len(t, st.LeftToDo, 1)
	require.Contains(t, st.LeftToDo[0], "run the contract")
	require.NotContains(t, h.log(), "contract")
	require.Equal(t, workflows.StepFinalized, states(st)["web"])
}

// A held release whose change is gone (it never answers) rolls back by itself.
func TestHeldReleaseRollsBackWithoutItsChange(t *testing.T) {
	h := newHarness(t)
	s := spec()
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: s.ID()})
	h.env.OnSignalExternalWorkflow(mock.Anything, "change/gone", "", workflows.SignalReleaseHeld, mock.Anything).Return(nil)
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflowName, workflows.ReleaseInput{Spec: s, Version: "v2",
		Hold: &workflows.Hold{ChangeID: "change/gone", Step: "api", Timeout: 2 * time.Hour}})
	err := h.env.GetWorkflowError()
	require.Equal(t, workflows.ErrTypeRolledBack, errType(err))
	require.ErrorContains(t, err, "change/gone did not finalize the release within 2h0m0s")
	var st workflows.Status
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.NoError(t, app.Details(&st))
	require.Contains(t, phases(st), workflows.PhaseHeld)
	h.fleetIs("v1", 4)
}
