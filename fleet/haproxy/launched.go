package haproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodown/zerodown/fleet"
)

// A launched fleet's instances are the local cloud's processes; HAProxy is only their
// balancer. The local cloud's record of which instances are attached is the truth the
// dynamic servers are rebuilt from: HAProxy does not keep servers added at runtime
// across a reload or restart (management.txt, "add server").

// replyDuplicate starts HAProxy's answer to adding a server whose name is taken.
const replyDuplicate = "Already exists a server with the same name"

func (f *Fleet) launch(ctx context.Context, req fleet.LaunchRequest) ([]fleet.Instance, error) {
	ins, err := f.launched.Launch(ctx, req)
	if err != nil {
		return nil, err
	}
	for i := range ins {
		if err := f.addServer(ctx, ins[i], false); err != nil {
			return nil, err
		}
		ins[i].Attached = false
		ins[i].Healthy = false // until HAProxy's checks say otherwise
	}
	return ins, nil
}

// addServer adds an instance as a dynamic server, in drain (checks run, no traffic)
// or ready. A server already there (a retried launch) is left as it is.
func (f *Fleet) addServer(ctx context.Context, in fleet.Instance, ready bool) error {
	err := f.api.AddServer(ctx, f.backend, in.ID, in.Address, f.checkArgs...)
	var re *RuntimeError
	if errors.As(err, &re) && strings.HasPrefix(re.Reply, replyDuplicate) {
		return nil
	}
	if err != nil {
		return f.wrap(err)
	}
	state := StateDrain
	if ready {
		state = StateReady
	}
	if err := f.api.SetState(ctx, f.backend, in.ID, state); err != nil {
		return f.wrap(err)
	}
	return f.wrap(f.api.EnableHealth(ctx, f.backend, in.ID))
}

// describeLaunched is the local cloud's instances with HAProxy's view of them: health
// by HAProxy's checks, attached when ready, and its session count. Instances HAProxy
// does not have (it restarted) are added again, ready if the local cloud records them
// attached.
func (f *Fleet) describeLaunched(ctx context.Context) (fleet.State, error) {
	st, err := f.launched.Describe(ctx)
	if err != nil {
		return fleet.State{}, err
	}
	servers, err := f.servers(ctx)
	if err != nil {
		return fleet.State{}, err
	}
	byName := map[string]Server{}
	for _, s := range servers {
		byName[s.Name] = s
	}
	readded := false
	for _, in := range st.Instances {
		if _, ok := byName[in.ID]; !ok {
			if err := f.addServer(ctx, in, in.Attached); err != nil {
				return fleet.State{}, fmt.Errorf("adding %s back to backend %s: %w", in.ID, f.backend, err)
			}
			readded = true
		}
	}
	if readded {
		if servers, err = f.servers(ctx); err != nil {
			return fleet.State{}, err
		}
		clear(byName)
		for _, s := range servers {
			byName[s.Name] = s
		}
	}
	out := fleet.State{Instances: make([]fleet.Instance, 0, len(st.Instances))}
	for _, in := range st.Instances {
		s := byName[in.ID]
		h := instance(s)
		h.ID, h.Version, h.Address, h.LaunchKey = in.ID, in.Version, in.Address, in.LaunchKey
		out.Instances = append(out.Instances, h)
	}
	out.Weights = weightsOf(out.Instances, servers)
	return out, nil
}

func (f *Fleet) attachLaunched(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := f.launched.Attach(ctx, ids); err != nil {
		return err
	}
	// Adds back what HAProxy lost, ready since the record now says attached.
	if _, err := f.describeLaunched(ctx); err != nil {
		return err
	}
	for _, id := range ids {
		if err := f.api.SetState(ctx, f.backend, id, StateReady); err != nil {
			return f.wrap(err)
		}
	}
	return nil
}

func (f *Fleet) detachLaunched(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		err := f.api.SetState(ctx, f.backend, id, StateDrain)
		if errors.Is(f.wrap(err), fleet.ErrNotFound) {
			continue // not in HAProxy (it restarted): nothing to drain there
		}
		if err != nil {
			return f.wrap(err)
		}
	}
	return f.launched.Detach(ctx, ids)
}

// terminate deletes each instance's server (maintenance first, as HAProxy requires,
// and whatever sessions it still holds are closed: the process is going away), then
// stops the processes. Instances already gone are fine.
func (f *Fleet) terminate(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := checkNames(id); err != nil {
			return fmt.Errorf("%w: %v", fleet.ErrNotFound, err)
		}
		if err := f.deleteServer(ctx, id); err != nil {
			return err
		}
	}
	return f.launched.Terminate(ctx, ids)
}

// deleteServer retries while HAProxy still counts connections to the server: closing
// sessions and idle connections takes a moment after the command.
func (f *Fleet) deleteServer(ctx context.Context, id string) error {
	if err := f.api.SetState(ctx, f.backend, id, StateMaint); err != nil {
		if errors.Is(f.wrap(err), fleet.ErrNotFound) {
			return nil
		}
		return f.wrap(err)
	}
	if err := f.api.ShutdownSessions(ctx, f.backend, id); err != nil {
		return f.wrap(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f.api.DelServer(ctx, f.backend, id)
		if err == nil || errors.Is(f.wrap(err), fleet.ErrNotFound) {
			return nil
		}
		var re *RuntimeError
		if !errors.As(err, &re) || time.Now().After(deadline) {
			return f.wrap(err)
		}
		fleet.Progress(ctx, fmt.Sprintf("deleting %s: %s", id, re.Reply))
		select {
		case <-ctx.Done():
			return fmt.Errorf("deleting server %s: %w (haproxy: %s)", id, ctx.Err(), re.Reply)
		case <-time.After(f.Poll):
		}
	}
}
