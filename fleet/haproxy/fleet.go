// Package haproxy is the fleet of one backend of a real HAProxy, driven through its
// Runtime API: drain (`set server … state drain`), maintenance, ready, weights, and
// waits on HAProxy's own health checks and session counts.
//
// A fleet is either fixed servers, listed in target.haproxy.servers and declared in
// HAProxy's configuration, which are upgraded where they stand (Launch and Terminate
// refuse), or launched instances: processes started by the local cloud (target.local)
// and added to the backend as dynamic servers named after their instance IDs. The
// local cloud keeps what HAProxy cannot: the processes, their versions, and which of
// them should be in the balancer, so that dynamic servers lost by an HAProxy restart
// are added again. Like the other providers it knows nothing of Temporal.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/schemas"
)

// DefaultCheckInterval is the health check interval of dynamic servers.
const DefaultCheckInterval = time.Second

// Fleet is the servers of one HAProxy backend.
type Fleet struct {
	api     *Client
	backend string
	// fixed lists the fixed servers by name; nil for a launched fleet.
	fixed    map[string]schemas.HAProxyServer
	launched fleet.Fleet // the local cloud, for a launched fleet
	probe    *versionProbe
	record   *versionFile
	// checkArgs are the health check keywords of dynamic servers.
	checkArgs []string
	// Poll is the interval of WaitHealthy and WaitDrained.
	Poll time.Duration
}

var _ InPlace = (*Fleet)(nil)

// InPlace is what a release that upgrades fixed servers where they stand needs beyond
// fleet.Fleet. Per server: Detach (drain), WaitDrained, Maintenance, deploy, Detach
// again (out of maintenance into drain: checks run, and the verdict from before the
// deploy is forgotten), WaitHealthy, Attach; RecordVersion after the deploy when the
// servers cannot tell their version.
type InPlace interface {
	fleet.Fleet
	Maintenance(ctx context.Context, ids []string) error
	RecordVersion(ctx context.Context, id, version string) error
}

// Factory builds the fleet of a haproxy target; launched fleets use the local cloud at
// local.DefaultEndpoint unless target.local names one.
func Factory(target schemas.Target) (fleet.Fleet, error) {
	return FactoryWith(local.DefaultEndpoint)(target)
}

// FactoryWith is Factory with another default local cloud endpoint (a worker flag).
func FactoryWith(defaultLocalEndpoint string) fleet.Factory {
	return func(target schemas.Target) (fleet.Fleet, error) {
		var launched fleet.Fleet
		h := target.HAProxy
		if h != nil && len(h.Servers) == 0 {
			if target.Local == nil {
				return nil, fmt.Errorf("%w: target.local is required for a haproxy target without servers: its instances are launched through the local cloud", fleet.ErrInvalidConfig)
			}
			f, err := local.FactoryWith(defaultLocalEndpoint)(target)
			if err != nil {
				return nil, err
			}
			launched = f
		}
		f, err := New(target.HAProxy, launched)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
}

// New returns the fleet spec describes. launched starts and records the instances of
// a fleet without fixed servers (the local cloud's fleet); it must be nil otherwise.
func New(spec *schemas.HAProxySpec, launched fleet.Fleet) (*Fleet, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: target.haproxy is required for provider %q", fleet.ErrInvalidConfig, schemas.ProviderHAProxy)
	}
	api, err := NewClient(spec.RuntimeAPI)
	if err != nil {
		return nil, fmt.Errorf("%w: target.haproxy.runtimeAPI: %v", fleet.ErrInvalidConfig, err)
	}
	if err := checkNames(spec.Backend); err != nil {
		return nil, fmt.Errorf("%w: target.haproxy.backend: %v", fleet.ErrInvalidConfig, err)
	}
	f := &Fleet{api: api, backend: spec.Backend, launched: launched, Poll: 200 * time.Millisecond}
	switch {
	case len(spec.Servers) > 0 && launched != nil:
		return nil, fmt.Errorf("%w: a haproxy fleet has fixed servers or launched instances, not both", fleet.ErrInvalidConfig)
	case len(spec.Servers) == 0 && launched == nil:
		return nil, fmt.Errorf("%w: target.haproxy.servers is empty and nothing launches instances", fleet.ErrInvalidConfig)
	}
	if len(spec.Servers) > 0 {
		f.fixed = make(map[string]schemas.HAProxyServer, len(spec.Servers))
		for i, s := range spec.Servers {
			if err := checkNames(s.Name); err != nil {
				return nil, fmt.Errorf("%w: target.haproxy.servers[%d].name: %v", fleet.ErrInvalidConfig, i, err)
			}
			if _, dup := f.fixed[s.Name]; dup {
				return nil, fmt.Errorf("%w: target.haproxy.servers[%d].name: %s is listed twice", fleet.ErrInvalidConfig, i, s.Name)
			}
			f.fixed[s.Name] = s
		}
	}
	if spec.VersionPath != "" {
		f.probe = newVersionProbe(spec.VersionPath, spec.VersionHeader)
	}
	if spec.VersionFile != "" {
		f.record = &versionFile{path: spec.VersionFile}
	}
	interval := spec.CheckInterval.D()
	if interval <= 0 {
		interval = DefaultCheckInterval
	}
	f.checkArgs = []string{"check", "inter", fmt.Sprintf("%dms", interval.Milliseconds())}
	return f, nil
}

// Client is the fleet's Runtime API client.
func (f *Fleet) Client() *Client { return f.api }

// Describe lists the fleet's servers: for fixed servers, those of the spec; for a
// launched fleet, the local cloud's instances, adding to HAProxy those it lost.
func (f *Fleet) Describe(ctx context.Context) (fleet.State, error) {
	if f.launched != nil {
		return f.describeLaunched(ctx)
	}
	servers, err := f.servers(ctx)
	if err != nil {
		return fleet.State{}, err
	}
	byName := map[string]Server{}
	for _, s := range servers {
		byName[s.Name] = s
	}
	var missing []string
	for name := range f.fixed {
		if _, ok := byName[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fleet.State{}, fmt.Errorf("%w: target.haproxy.servers %s are not servers of backend %s", fleet.ErrInvalidConfig, strings.Join(missing, ", "), f.backend)
	}
	st := fleet.State{}
	for _, s := range servers {
		spec, ok := f.fixed[s.Name]
		if !ok {
			continue // another server of the backend (a backup, a sorry server): not the fleet's
		}
		in := instance(s)
		if spec.Address != "" {
			in.Address = spec.Address
		}
		st.Instances = append(st.Instances, in)
	}
	if err := f.fixedVersions(ctx, st.Instances); err != nil {
		return fleet.State{}, err
	}
	st.Weights = weightsOf(st.Instances, servers)
	return st, nil
}

// instance is a server as a fleet instance, without its version.
func instance(s Server) fleet.Instance {
	conns := s.Sessions + s.Queued
	return fleet.Instance{
		ID:          s.Name,
		Address:     s.Address,
		Healthy:     s.Healthy(),
		Attached:    s.Admin == StateReady,
		Draining:    s.Admin != StateReady && conns > 0,
		Connections: conns,
		Weight:      s.Weight,
	}
}

// fixedVersions fills in the versions of fixed servers: asked of each server when the
// spec says how (in parallel, each bounded by the probe's timeout), else recorded.
func (f *Fleet) fixedVersions(ctx context.Context, ins []fleet.Instance) error {
	recorded, err := f.record.read()
	if err != nil {
		return err
	}
	for i := range ins {
		ins[i].Version = recorded[ins[i].ID]
	}
	if f.probe == nil {
		return nil
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ins {
		wg.Add(1)
		go func(in *fleet.Instance) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			// A server that cannot answer now (down, restarting) keeps its recorded version.
			if v, err := f.probe.version(ctx, in.Address); err == nil {
				in.Version = v
			}
		}(&ins[i])
	}
	wg.Wait()
	return ctx.Err()
}

// Attach puts servers back in service (`state ready`).
func (f *Fleet) Attach(ctx context.Context, ids []string) error {
	if f.launched != nil {
		return f.attachLaunched(ctx, ids)
	}
	return f.setState(ctx, ids, StateReady)
}

// Detach drains servers (`state drain`): no new sessions, current ones go on, and
// health checks keep running.
func (f *Fleet) Detach(ctx context.Context, ids []string) error {
	if f.launched != nil {
		return f.detachLaunched(ctx, ids)
	}
	return f.setState(ctx, ids, StateDrain)
}

// Drain is Detach, by HAProxy's name.
func (f *Fleet) Drain(ctx context.Context, ids []string) error { return f.Detach(ctx, ids) }

// Ready is Attach, by HAProxy's name.
func (f *Fleet) Ready(ctx context.Context, ids []string) error { return f.Attach(ctx, ids) }

// Maintenance takes servers out of service entirely (`state maint`): no traffic, and
// HAProxy pauses their health checks, so a server being upgraded is not reported down.
// Sessions still open are not cut; drain and wait first.
func (f *Fleet) Maintenance(ctx context.Context, ids []string) error {
	return f.setState(ctx, ids, StateMaint)
}

// RecordVersion records the version deployed on a fixed server, for Describe when the
// server cannot tell (no versionPath). It needs target.haproxy.versionFile.
func (f *Fleet) RecordVersion(ctx context.Context, id, version string) error {
	if err := f.known([]string{id}); err != nil {
		return err
	}
	if !validVersion.MatchString(version) {
		return fmt.Errorf("%w: %q is not a version", fleet.ErrInvalidConfig, version)
	}
	if f.record == nil {
		return fmt.Errorf("%w: target.haproxy.versionFile is not set: there is nowhere to record versions", fleet.ErrInvalidConfig)
	}
	return f.record.record(id, version)
}

// Launch starts instances through the local cloud and adds each to the backend as a
// dynamic server in drain: its health checks run, it takes no traffic until Attach.
// Fixed servers are upgraded in place: there is nothing to launch.
func (f *Fleet) Launch(ctx context.Context, req fleet.LaunchRequest) ([]fleet.Instance, error) {
	if f.launched == nil {
		return nil, f.fixedRefuses("launch")
	}
	return f.launch(ctx, req)
}

// Terminate deletes launched instances' servers from the backend and stops them.
func (f *Fleet) Terminate(ctx context.Context, ids []string) error {
	if f.launched == nil {
		return f.fixedRefuses("terminate")
	}
	return f.terminate(ctx, ids)
}

func (f *Fleet) fixedRefuses(what string) error {
	return fmt.Errorf("%w: backend %s has fixed servers (target.haproxy.servers), which are upgraded in place: zerodown does not %s them", fleet.ErrInvalidConfig, f.backend, what)
}

// setState sets the admin state of fixed servers, refusing servers not in the spec.
func (f *Fleet) setState(ctx context.Context, ids []string, s AdminState) error {
	if err := f.known(ids); err != nil {
		return err
	}
	var servers map[string]Server
	if s != StateMaint {
		list, err := f.servers(ctx)
		if err != nil {
			return err
		}
		servers = make(map[string]Server, len(list))
		for _, srv := range list {
			servers[srv.Name] = srv
		}
	}
	for _, id := range ids {
		if srv, ok := servers[id]; ok && srv.Admin == StateMaint && srv.Checked {
			if err := f.leaveMaintenance(ctx, id); err != nil {
				return err
			}
		}
		if err := f.api.SetState(ctx, f.backend, id, s); err != nil {
			return f.wrap(err)
		}
	}
	return nil
}

// leaveMaintenance puts a server from maintenance into drain, forgetting the verdict
// of its last check. HAProxy would otherwise call it up at once on the strength of a
// check made before maintenance, that is before the server was upgraded; forced down,
// it is up only once a check passes on what it runs now. It takes no traffic between
// the two commands: drain.
func (f *Fleet) leaveMaintenance(ctx context.Context, id string) error {
	if err := f.api.SetState(ctx, f.backend, id, StateDrain); err != nil {
		return f.wrap(err)
	}
	return f.wrap(f.api.SetHealthDown(ctx, f.backend, id))
}

// known refuses IDs that are not servers of the fleet: zerodown acts only on the
// servers the spec lists, never on another server of the same backend.
func (f *Fleet) known(ids []string) error {
	for _, id := range ids {
		if err := checkNames(id); err != nil {
			return fmt.Errorf("%w: %v", fleet.ErrNotFound, err)
		}
		if f.fixed != nil {
			if _, ok := f.fixed[id]; !ok {
				return fmt.Errorf("%w: %s is not in target.haproxy.servers", fleet.ErrNotFound, id)
			}
		}
	}
	return nil
}

func (f *Fleet) servers(ctx context.Context) ([]Server, error) {
	s, err := f.api.Servers(ctx, f.backend)
	return s, f.wrap(err)
}

// HAProxy's words for what no retry fixes.
const (
	replyNoServer   = "No such server."
	replyNoBackend  = "No such backend."
	replyCantFind   = "Can't find backend."
	replyPermission = "Permission denied"
	// replyStaticBackend starts the refusal to add a server to a static-rr or hashed backend.
	replyStaticBackend = "Backend must use a dynamic load balancing"
)

// wrap marks HAProxy's refusals that no retry can fix, keeping its words.
func (f *Fleet) wrap(err error) error {
	var re *RuntimeError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case re.Reply == replyNoServer:
		return fmt.Errorf("%w: %w", fleet.ErrNotFound, err)
	case re.Reply == replyNoBackend, re.Reply == replyCantFind, strings.HasPrefix(re.Reply, "No such proxy"):
		return fmt.Errorf("%w: backend %s (target.haproxy.backend): %w", fleet.ErrInvalidConfig, f.backend, err)
	case strings.HasPrefix(re.Reply, replyStaticBackend):
		return fmt.Errorf("%w: backend %s must use a dynamic algorithm (roundrobin, leastconn, random, first) for launched instances: %w", fleet.ErrInvalidConfig, f.backend, err)
	case strings.HasPrefix(re.Reply, replyPermission):
		return fmt.Errorf("%w: the stats socket at %s needs `level admin`: %w", fleet.ErrInvalidConfig, f.api.Address(), err)
	}
	return err
}
