//go:build unix

package inplaceworld_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/inplaceworld"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// Releases of four fixed servers behind a real HAProxy 2.6, upgraded in place by a
// real release workflow on a Temporal dev server. One dev server and one worker serve
// every case; each case has a world of its own.
func TestInPlaceReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server, HAProxy and demo service processes")
	}
	c := testharness.StartDevServer(t)
	testharness.StartWorker(t, c, fleet.Registry{schemas.ProviderHAProxy: haproxy.Factory})
	h := &harness{c: c}

	t.Run("rolling release under load loses nothing", h.rollingUnderLoad)
	t.Run("a failing check mid-way rolls back the servers upgraded", h.failingCheckMidway)
	t.Run("a deploy that fails rolls back", h.deployFails)
	t.Run("a deploy that fails half-way, the service down, rolls back", h.deployFailsHalfway)
	t.Run("a deploy that hangs is killed at its timeout and rolls back", h.deployHangs)
	t.Run("a server that never becomes healthy rolls back", h.neverHealthy)
	t.Run("revert one server and go on", h.revertContinue)
	t.Run("revert one server and stop", h.revertStop)
	t.Run("HAProxy restarted mid-release", h.haproxyRestarted)
}

type harness struct{ c client.Client }

func (h *harness) world(t *testing.T, faults map[string]inplaceworld.Fault) *inplaceworld.World {
	// Like most services, these close their WebSockets on SIGTERM without telling the
	// clients where to go: only the release's own migration keeps the sessions.
	return inplaceworld.Start(t, inplaceworld.Config{DemoBin: demoBin, Args: []string{"--migrate-on-sigterm=false"}, Faults: faults})
}

func (h *harness) start(ctx context.Context, t *testing.T, s schemas.Spec, version string) client.WorkflowRun {
	t.Helper()
	require.NoError(t, schemas.Validate(&s))
	run, err := h.c.ExecuteWorkflow(ctx, cli.StartOptions(&s, version), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: s, Version: version, StartedBy: "ci"})
	require.NoError(t, err)
	return run
}

// outcome waits for the release's end and returns its status and error type ("" when
// it succeeded).
func outcome(ctx context.Context, t *testing.T, run client.WorkflowRun) (workflows.Status, string, string) {
	t.Helper()
	var st workflows.Status
	err := run.Get(ctx, &st)
	if err == nil {
		return st, "", ""
	}
	var app *temporal.ApplicationError
	require.True(t, errors.As(err, &app), "%v", err)
	require.NoError(t, app.Details(&st))
	return st, app.Type(), app.Error()
}

func (h *harness) status(ctx context.Context, t *testing.T, id string) workflows.Status {
	t.Helper()
	v, err := h.c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.Status
	require.NoError(t, v.Get(&st))
	return st
}

// waitStatus waits until the release's status satisfies cond.
func (h *harness) waitStatus(ctx context.Context, t *testing.T, id, what string, cond func(workflows.Status) bool) workflows.Status {
	t.Helper()
	var st workflows.Status
	require.Eventually(t, func() bool {
		st = h.status(ctx, t, id)
		return cond(st)
	}, 3*time.Minute, 200*time.Millisecond, "release never %s (last phase %s, servers %+v)", what, st.Phase, st.Servers)
	return st
}

func (h *harness) revert(ctx context.Context, id string, req workflows.RevertRequest) error {
	u, err := h.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateRevert, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return u.Get(ctx, nil)
}

func serverVersions(st workflows.Status) map[string]string {
	out := map[string]string{}
	for _, s := range st.Servers {
		out[s.Name] = s.Version + "/" + s.State
	}
	return out
}

func all(w *inplaceworld.World, version string) map[string]string {
	out := map[string]string{}
	for _, n := range w.Names {
		out[n] = version
	}
	return out
}

// load starts steady traffic through HAProxy: reads, writes and WebSocket sessions.
func load(ctx context.Context, t *testing.T, w *inplaceworld.World, rate float64) *loadgen.Generator {
	t.Helper()
	g, err := loadgen.New(loadgen.Config{
		BaseURL: w.HAProxy.URL, Rate: rate, WriteRatio: 0.3, WSClients: 8,
		Boards: []string{"a", "b", "c"}, Settle: time.Second,
	})
	require.NoError(t, err)
	require.NoError(t, g.Start(ctx))
	return g
}

func (h *harness) rollingUnderLoad(t *testing.T) {
	w := h.world(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g := load(ctx, t, w, 80)
	time.Sleep(time.Second) // a steady second before the release

	s := w.Spec("rolling", 3*time.Second)
	run := h.start(ctx, t, s, "v2")
	st, kind, msg := outcome(ctx, t, run)
	time.Sleep(time.Second)
	r := g.Stop()
	t.Log("\n" + r.String())
	require.Empty(t, kind, msg)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, "v1", st.PreviousVersion)
	require.Equal(t, all(w, "v2"), w.Versions(), "every process runs v2")
	require.Equal(t, []string{"web1 v2", "web2 v2", "web3 v2", "web4 v2"}, w.Deploys(), "the canary first, then one server at a time in the spec's order")
	for _, s := range st.Servers {
		require.Equal(t, workflows.ServerStatus{Name: s.Name, Version: "v2", State: workflows.ServerServing}, s)
	}
	require.True(t, r.ZeroLoss(), r.String())
	require.Positive(t, r.Versions["v1"].Responses)
	require.Positive(t, r.Versions["v2"].Responses)
	require.Positive(t, r.WebSocket.Reconnects, "sessions moved off the servers being upgraded")
}

func (h *harness) failingCheckMidway(t *testing.T) {
	w := h.world(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g := load(ctx, t, w, 50)
	s := w.Spec("midway", time.Second)
	// The smoke test fails on web3 only: web1 and web2 are on v2 by then.
	s.Hooks.PreTraffic = []schemas.Hook{{Name: "smoke", Command: &schemas.CommandHook{
		Args: []string{"sh", "-c", `test "$ZERODOWN_INSTANCES" != "` + w.Addr("web3") + `" || { echo "smoke: /items answers 500"; exit 1; }`}}}}
	run := h.start(ctx, t, s, "v2")
	st, kind, msg := outcome(ctx, t, run)
	r := g.Stop()
	t.Log("\n" + r.String())
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "preTraffic hook failed")
	require.Contains(t, msg, "smoke: /items answers 500")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web3 v2", "web3 v1", "web2 v1", "web1 v1"}, w.Deploys(),
		"the rollback takes back the servers touched, in reverse order, one at a time")
	for _, s := range st.Servers {
		require.Equal(t, "v1", s.Version, "%+v", st.Servers)
	}
	require.True(t, r.ZeroLoss(), r.String())
}

func (h *harness) deployFails(t *testing.T) {
	w := h.world(t, map[string]inplaceworld.Fault{"v2": {FailDeploy: true, Servers: []string{"web2"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := h.start(ctx, t, w.Spec("deployfails", time.Second), "v2")
	_, kind, msg := outcome(ctx, t, run)
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "deploy of v2 on web2 failed")
	require.Contains(t, msg, "package board-v2 not found")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web2 v1", "web1 v1"}, w.Deploys())
}

func (h *harness) deployFailsHalfway(t *testing.T) {
	w := h.world(t, map[string]inplaceworld.Fault{"v2": {StopThenFail: true, Servers: []string{"web2"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := h.start(ctx, t, w.Spec("halfway", time.Second), "v2")
	_, kind, msg := outcome(ctx, t, run)
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "no space left on device")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web2 v1", "web1 v1"}, w.Deploys(), "web2, down, is deployed again first")
}

func (h *harness) deployHangs(t *testing.T) {
	w := h.world(t, map[string]inplaceworld.Fault{"v2": {HangDeploy: true, Servers: []string{"web2"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := w.Spec("deployhangs", time.Second)
	// Long enough for a real restart of the demo service on a busy machine.
	s.Deploy.Timeout = schemas.Duration(10 * time.Second)
	run := h.start(ctx, t, s, "v2")
	_, kind, msg := outcome(ctx, t, run)
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "deploy of v2 on web2 still running after 10s (deploy.timeout), killed")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web2 v1", "web1 v1"}, w.Deploys())
}

func (h *harness) neverHealthy(t *testing.T) {
	w := h.world(t, map[string]inplaceworld.Fault{"v2": {Args: []string{"--fail-health"}, Servers: []string{"web3"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := w.Spec("unhealthy", time.Second)
	s.Target.HealthTimeout = schemas.Duration(5 * time.Second)
	run := h.start(ctx, t, s, "v2")
	_, kind, msg := outcome(ctx, t, run)
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "not healthy after 5s")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web3 v2", "web3 v1", "web2 v1", "web1 v1"}, w.Deploys())
}

// revertSpec pauses between batches, so that the operator has time to revert.
func revertSpec(w *inplaceworld.World, env string) schemas.Spec {
	s := w.Spec(env, time.Second)
	s.Promote.PauseBetweenBatches = schemas.Duration(time.Hour)
	return s
}

func (h *harness) revertContinue(t *testing.T) {
	w := h.world(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := revertSpec(w, "revert")
	run := h.start(ctx, t, s, "v2")
	id := s.ID()
	h.waitStatus(ctx, t, id, "upgraded web2", func(st workflows.Status) bool {
		return st.Phase == workflows.PhasePromoting && serverVersions(st)["web2"] == "v2/serving"
	})
	// Refused, each naming what is wrong.
	require.ErrorContains(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web9", Reason: "x"}), `server: "web9" is not in target.haproxy.servers (web1, web2, web3, web4)`)
	require.ErrorContains(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web4", Reason: "x"}), "server: web4 is not serving v2 yet")
	require.ErrorContains(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web2"}), "reason is required")
	require.ErrorContains(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web2", Reason: "x", Then: "later"}), `then: "later"; must be continue or stop`)

	require.NoError(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web2", Reason: "its logs show timeouts to the cache"}))
	h.waitStatus(ctx, t, id, "reverted web2", func(st workflows.Status) bool { return serverVersions(st)["web2"] == "v1/reverted" })
	_, err := h.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdatePromote,
		Args: []any{workflows.ActorRequest{By: "ops"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	st, kind, msg := outcome(ctx, t, run)
	require.Empty(t, kind, msg)
	require.Equal(t, map[string]string{"web1": "v2", "web2": "v1", "web3": "v2", "web4": "v2"}, w.Versions())
	require.Equal(t, map[string]string{"web1": "v2/serving", "web2": "v1/reverted", "web3": "v2/serving", "web4": "v2/serving"}, serverVersions(st))
}

func (h *harness) revertStop(t *testing.T) {
	w := h.world(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := revertSpec(w, "revertstop")
	run := h.start(ctx, t, s, "v2")
	id := s.ID()
	h.waitStatus(ctx, t, id, "upgraded web2", func(st workflows.Status) bool {
		return st.Phase == workflows.PhasePromoting && serverVersions(st)["web2"] == "v2/serving"
	})
	require.NoError(t, h.revert(ctx, id, workflows.RevertRequest{By: "ops", Server: "web2", Reason: "memory grows", Then: workflows.ThenStop}))
	_, kind, msg := outcome(ctx, t, run)
	require.Equal(t, workflows.ErrTypeRolledBack, kind, msg)
	require.Contains(t, msg, "stopped by ops after reverting web2 to v1: memory grows")
	require.Equal(t, all(w, "v1"), w.Versions())
	require.Equal(t, []string{"web1 v2", "web2 v2", "web2 v1", "web1 v1"}, w.Deploys())
}

func (h *harness) haproxyRestarted(t *testing.T) {
	w := h.world(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := w.Spec("restart", time.Second)
	run := h.start(ctx, t, s, "v2")
	h.waitStatus(ctx, t, s.ID(), "began web2", func(st workflows.Status) bool {
		st2 := serverVersions(st)["web2"]
		return st2 != "" && st2 != "v1/"+workflows.ServerWaiting
	})
	// As `systemctl restart haproxy` does with Debian's unit: the state is saved, the
	// process stops, a new one loads the state. The outage lasts long enough for the
	// release's waits on the Runtime API to meet it.
	w.HAProxy.SaveState(t)
	w.HAProxy.StopCurrent(t)
	time.Sleep(3 * time.Second)
	w.HAProxy.StartAgain(t)
	st, kind, msg := outcome(ctx, t, run)
	require.Empty(t, kind, msg)
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Equal(t, all(w, "v2"), w.Versions())
}
