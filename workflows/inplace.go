package workflows

// The in-place release: fixed servers (target.haproxy.servers) upgraded where they
// stand, server by server. The first server is the canary and soaks as canaries do;
// the rest follow batch by batch, never more out of service at once than
// promote.maxUnavailable allows (at least one), never fewer serving than
// promote.minHealthy. Old histories never take this path: the deploy field it needs
// is newer than any of them.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/workflow"
)

// capacityPoll is how often a release waiting for capacity looks at the fleet again.
const capacityPoll = 2 * time.Second

// runInPlace walks the phases of an in-place release. A resumed run (after
// continue-as-new) picks up the soak, as run does.
func (r *release) runInPlace(ctx workflow.Context) error {
	if r.st.Status.Phase != PhaseSoaking {
		if err := r.planInPlace(ctx); err != nil {
			return err
		}
		if err := r.beforeFleetChange(ctx, true); err != nil {
			return err
		}
		if err := r.prepareFleet(ctx); err != nil {
			return err
		}
		r.setPhase(ctx, PhaseCanary)
		canary := r.serverNames()[:1]
		if err := r.moveServers(ctx, canary, r.in.Version, true); err != nil {
			return err
		}
		r.st.CanaryIDs = canary
		r.st.OldIDs = r.serverNames()[1:]
		r.event(ctx, timeline.KindCanary, "", fmt.Sprintf("canary %s upgraded in place to %s, healthy and taking traffic", canary[0], r.in.Version))
		r.setPhase(ctx, PhaseSoaking)
	}
	if err := r.soak(ctx); err != nil {
		return err
	}
	if err := r.approval(ctx, schemas.GateAfterSoak); err != nil {
		return err
	}
	if err := r.review(ctx); err != nil {
		return err
	}
	if err := r.promoteInPlace(ctx); err != nil {
		return err
	}
	if err := r.postPromotion(ctx); err != nil {
		return err
	}
	// A change holds its in-place releases too: its rollback deploys the previous
	// version back, server by server, as any rollback here does.
	if err := r.hold(ctx); err != nil {
		return err
	}
	// A revert still running is part of the release: its outcome decides the end.
	if err := workflow.Await(ctx, func() bool { return r.reverting == "" }); err != nil {
		return err
	}
	if r.stop != "" {
		return &rollbackError{reason: r.stop}
	}
	_, err := r.describe(ctx)
	return err
}

// planInPlace reads the servers and their versions; the most common version among them
// is the previous one, which a rollback deploys back.
func (r *release) planInPlace(ctx workflow.Context) error {
	r.setPhase(ctx, PhasePlanning)
	if err := schemas.CheckDeployVersion(r.in.Version); err != nil {
		return &rollbackError{reason: err.Error()} // nothing touched yet: nothing to roll back
	}
	st, err := r.describe(ctx)
	if err != nil {
		return err
	}
	names := r.serverNames()
	counts := map[string]int{}
	r.st.Status.Servers = make([]ServerStatus, len(names))
	for i, name := range names {
		r.st.Status.Servers[i] = ServerStatus{Name: name, State: ServerWaiting}
		if in, ok := st.Find(name); ok {
			r.st.Status.Servers[i].Version = in.Version
			if in.Version != "" {
				counts[in.Version]++
			}
		}
	}
	for _, s := range r.st.Status.Servers {
		if counts[s.Version] > counts[r.st.Status.PreviousVersion] {
			r.st.Status.PreviousVersion = s.Version
		}
	}
	r.st.OldIDs = names
	batches := r.inPlaceBatches()
	r.st.Status.Batches = len(batches)
	out := schemas.InPlaceOutAtOnce(&r.spec)
	r.notes.send(ctx, timeline.KindStarted, r.in.StartedBy, fmt.Sprintf("%s -> %s", orNone(r.st.Status.PreviousVersion), r.in.Version))
	r.event(ctx, timeline.KindPlanned, r.in.StartedBy, fmt.Sprintf("%s -> %s in place on %d server(s): %s first (canary), then %d batch(es) of at most %d; at most %d out of service at once, at least %d serving",
		orNone(r.st.Status.PreviousVersion), r.in.Version, len(names), names[0], len(batches), out, out, max(1, r.spec.Promote.MinHealthy)))
	return nil
}

// serverNames are the fixed servers in the spec's order.
func (r *release) serverNames() []string {
	var names []string
	for _, s := range r.spec.Target.HAProxy.Servers {
		names = append(names, s.Name)
	}
	return names
}

// inPlaceBatches are the servers after the canary, in the spec's order, in batches of
// the servers that may be out at once.
func (r *release) inPlaceBatches() [][]string {
	rest := r.serverNames()[1:]
	size := schemas.InPlaceOutAtOnce(&r.spec)
	var batches [][]string
	for len(rest) > 0 {
		n := min(size, len(rest))
		batches = append(batches, rest[:n])
		rest = rest[n:]
	}
	return batches
}

// promoteInPlace upgrades the servers after the canary, batch by batch.
func (r *release) promoteInPlace(ctx workflow.Context) error {
	r.setPhase(ctx, PhasePromoting)
	if err := r.clearWeights(ctx); err != nil { // after traffic steps, as promote does
		return err
	}
	batches := r.inPlaceBatches()
	r.st.Status.Batches = len(batches)
	for i, b := range batches {
		if err := r.waitResumed(ctx); err != nil {
			return err
		}
		if err := r.beforeFleetChange(ctx, false); err != nil {
			return err
		}
		if i == len(batches)-1 && !(i == 0 && r.spec.Canary.Approval.HasGate(schemas.GateAfterSoak)) {
			if err := r.approval(ctx, schemas.GateBeforeLastBatch); err != nil {
				return err
			}
		}
		r.st.Status.Batch = i + 1
		if err := r.moveServers(ctx, b, r.in.Version, true); err != nil {
			return err
		}
		r.st.OldIDs = slices.DeleteFunc(slices.Clone(r.st.OldIDs), func(id string) bool { return slices.Contains(b, id) })
		if _, err := r.describe(ctx); err != nil {
			return err
		}
		r.event(ctx, timeline.KindBatch, "", fmt.Sprintf("batch %d/%d: %s upgraded in place to %s, %d server(s) still on %s", i+1, len(batches), strings.Join(b, ", "), r.in.Version, len(r.st.OldIDs), orNone(r.st.Status.PreviousVersion)))
		if r.spec.Canary.Analysis.BetweenBatches && i < len(batches)-1 {
			if err := r.checkStage(ctx, fmt.Sprintf("batch %d/%d", i+1, len(batches)), r.st.NewIDs, r.st.OldIDs); err != nil {
				return err
			}
		}
		if pause := r.spec.Promote.PauseBetweenBatches.D(); pause > 0 && i < len(batches)-1 && r.st.PromoteBy == "" {
			if _, err := workflow.AwaitWithTimeout(ctx, pause, func() bool { return r.st.PromoteBy != "" }); err != nil {
				return err
			}
		}
	}
	return r.hooks(ctx, "postPromote", r.spec.Hooks.PostPromote, r.st.NewIDs)
}

// moveServers puts version on servers where they stand, with the steps that lose
// nothing: drain, move the sessions, wait drained, maintenance, deploy, out of
// maintenance into drain (HAProxy's checks run on what the server now runs), wait
// healthy, the preTraffic hooks (forward only: they judge the new version), in
// service, record the version. One move at a time: a revert waits for the release's
// own move and the other way round.
func (r *release) moveServers(ctx workflow.Context, names []string, version string, forward bool) error {
	if err := workflow.Await(ctx, func() bool { return !r.moving }); err != nil {
		return err
	}
	r.moving = true
	defer func() { r.moving = false }()
	st, err := r.waitCapacity(ctx, names)
	if err != nil {
		return err
	}
	if forward {
		r.st.Touched = appendNew(r.st.Touched, names...)
	}
	failed := func(err error) error {
		r.setServers(names, ServerFailed, "")
		return err
	}
	r.setServers(names, ServerDraining, "")
	if err := r.exec(ctx, a.Detach, r.ids(names)); err != nil {
		return failed(err)
	}
	// Only a server that takes traffic or holds sessions has any to move: one a failed
	// deploy left down (a rollback's first server) would refuse the request.
	var serving []string
	for _, name := range names {
		if in, ok := st.Find(name); ok && (in.Attached || in.Connections > 0) {
			serving = append(serving, name)
		}
	}
	if err := r.migrate(ctx, serving); err != nil {
		return failed(err)
	}
	if err := r.waitDrained(ctx, names); err != nil {
		return failed(err)
	}
	r.setServers(names, ServerDeploying, "")
	if err := r.exec(ctx, a.Maintenance, r.ids(names)); err != nil {
		return failed(err)
	}
	if err := r.deploy(ctx, names, version); err != nil {
		return failed(err)
	}
	r.setServers(names, ServerChecking, version)
	if err := r.exec(ctx, a.Detach, r.ids(names)); err != nil {
		return failed(err)
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, r.healthOptions()), a.WaitHealthy, r.ids(names)).Get(ctx, nil); err != nil {
		return failed(err)
	}
	if forward {
		if err := r.hooks(ctx, "preTraffic", r.spec.Hooks.PreTraffic, names); err != nil {
			return failed(err)
		}
	}
	if err := r.attach(ctx, names); err != nil {
		return failed(err)
	}
	if r.spec.Target.HAProxy.VersionFile != "" {
		for _, name := range names {
			in := activities.RecordVersionInput{Target: r.spec.Target, Server: name, Version: version}
			if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.RecordVersion, in).Get(ctx, nil); err != nil {
				return failed(err)
			}
		}
	}
	r.setServers(names, ServerServing, version)
	if forward {
		r.st.NewIDs = appendNew(r.st.NewIDs, names...)
	} else {
		r.st.NewIDs = slices.DeleteFunc(slices.Clone(r.st.NewIDs), func(id string) bool { return slices.Contains(names, id) })
	}
	r.event(ctx, timeline.KindServer, "", fmt.Sprintf("%s back in service on %s", strings.Join(names, ", "), version))
	return nil
}

// deploy runs the deploy command on each server at once and waits for all of them.
func (r *release) deploy(ctx workflow.Context, names []string, version string) error {
	d := *r.spec.Deploy
	opts := longOptions(d.TimeoutOrDefault() + time.Minute)
	// A failed deploy is final (the command said no); a worker that died mid-deploy is
	// not, and Temporal runs the command again elsewhere.
	futures := make([]workflow.Future, len(names))
	for i, name := range names {
		in := activities.DeployInput{Target: r.spec.Target, Deploy: d, Server: name, Version: version, Release: r.st.Status.ReleaseID}
		futures[i] = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Deploy, in)
	}
	var first error
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil && first == nil {
			first = &rollbackError{reason: fmt.Sprintf("deploy of %s on %s failed: %s", version, names[i], r.reasonFor(err))}
			if r.abort != nil {
				first = err
			}
		}
	}
	return first
}

// waitDrained waits until the servers hold no open connection, or drain.timeout passes
// (then they go into maintenance anyway, as a launched instance would be terminated).
func (r *release) waitDrained(ctx workflow.Context, names []string) error {
	timeout := r.spec.Drain.TimeoutOrDefault()
	var res activities.DrainResult
	in := activities.DrainInput{Target: r.spec.Target, IDs: names, Timeout: timeout}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longOptions(timeout+time.Minute)), a.WaitDrained, in).Get(ctx, &res); err != nil {
		return err
	}
	if !res.Drained {
		r.event(ctx, timeline.KindDrainTimeout, "", fmt.Sprintf("%s: %d connection(s) still open after %s; upgrading anyway", strings.Join(names, ", "), res.Open, timeout))
	}
	return nil
}

// waitCapacity waits until taking names out of service keeps the fleet within its
// bounds: at most max(1, promote.maxUnavailable) servers out, at least
// max(1, promote.minHealthy) of the others healthy and in service. It gives up after
// target.healthTimeout. It returns the fleet as last seen.
func (r *release) waitCapacity(ctx workflow.Context, names []string) (fleet.State, error) {
	allowedOut := max(1, r.spec.Promote.MaxUnavailable)
	minServing := max(1, r.spec.Promote.MinHealthy)
	deadline := workflow.Now(ctx).Add(r.spec.Target.HealthTimeoutOrDefault())
	waited := false
	for {
		st, err := r.describe(ctx)
		if err != nil {
			return st, err
		}
		serving := 0
		var out []string
		for _, name := range r.serverNames() {
			if slices.Contains(names, name) {
				continue
			}
			if in, ok := st.Find(name); ok && in.Attached && in.Healthy {
				serving++
			} else {
				out = append(out, name)
			}
		}
		if len(out)+len(names) <= allowedOut && serving >= minServing {
			return st, nil
		}
		why := fmt.Sprintf("%s cannot leave service yet: %d other server(s) serving, %d out (%s); promote.maxUnavailable allows %d out, promote.minHealthy asks %d serving",
			strings.Join(names, ", "), serving, len(out), strings.Join(out, ", "), allowedOut, minServing)
		if !workflow.Now(ctx).Before(deadline) {
			return st, &rollbackError{reason: why + fmt.Sprintf(" (waited %s, target.healthTimeout)", r.spec.Target.HealthTimeoutOrDefault())}
		}
		if !waited {
			r.event(ctx, timeline.KindServer, "", why+": waiting")
			waited = true
		}
		if err := workflow.Sleep(ctx, capacityPoll); err != nil {
			return st, err
		}
	}
}

// setServers sets the state (and, when given, the version) of servers in the status.
func (r *release) setServers(names []string, state, version string) {
	for i := range r.st.Status.Servers {
		s := &r.st.Status.Servers[i]
		if slices.Contains(names, s.Name) {
			s.State = state
			if version != "" {
				s.Version = version
			}
		}
	}
}

// server is the status of one server.
func (r *release) server(name string) (ServerStatus, bool) {
	for _, s := range r.st.Status.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return ServerStatus{}, false
}

// inPlaceSteps is what `zerodown plan` prints for an in-place spec, one line a step.
func inPlaceSteps(spec schemas.Spec, version, oldVersion string) []string {
	var names []string
	for _, srv := range spec.Target.HAProxy.Servers {
		names = append(names, srv.Name)
	}
	out := schemas.InPlaceOutAtOnce(&spec)
	s := []string{
		fmt.Sprintf("plan: %s/%s %s -> %s in place on %d server(s) behind HAProxy backend %s; at most %d out of service at once, at least %d serving",
			spec.Service, spec.Environment, oldVersion, version, len(names), spec.Target.HAProxy.Backend, out, max(1, spec.Promote.MinHealthy)),
		fmt.Sprintf("each server: drain, move sessions, wait drained (at most %s), maintenance, deploy (%s, at most %s), wait healthy by HAProxy's checks, %d preTraffic hook(s), ready",
			spec.Drain.TimeoutOrDefault(), strings.Join(spec.Deploy.Command, " "), spec.Deploy.TimeoutOrDefault(), len(spec.Hooks.PreTraffic)),
		fmt.Sprintf("canary: %s", names[0]),
		fmt.Sprintf("soak: %s, check every %s (%s), roll back after %d failed check(s)",
			spec.Canary.Soak.D(), spec.Canary.Analysis.Interval.D(), spec.Canary.Analysis.Provider, spec.Canary.Analysis.FailureLimit),
	}
	rest := names[1:]
	for i := 0; len(rest) > 0; i++ {
		n := min(out, len(rest))
		s = append(s, fmt.Sprintf("batch %d: %s", i+1, strings.Join(rest[:n], ", ")))
		rest = rest[n:]
	}
	return append(s, "rollback: the previous version back on every server touched, in reverse order, one at a time")
}
