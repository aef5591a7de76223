// Package memory is an in-process fleet for tests and benchmarks. It is a real
// implementation of fleet.Fleet (idempotent launches, draining, health), not a mock,
// but it starts no processes: instances are records, and faults are injected by hand.
package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Fleet is an in-memory fleet.
type Fleet struct {
	mu        sync.Mutex
	next      int
	instances map[string]*fleet.Instance
	byKey     map[string][]string
	weights   map[string]int
	// weightsHistory is every map SetWeights was given, in order.
	weightsHistory []map[string]int
	// Address gives each launched instance its direct address (hooks, migration).
	address func(version string) string
	// unhealthy versions fail their health checks at once, like a crash on start.
	unhealthy map[string]bool
	// slow versions never become healthy: WaitHealthy blocks until ctx ends.
	slow       map[string]bool
	slowKeys   []string
	launches   int // instances created, to prove retries never double the fleet
	terminated []string
	poll       time.Duration
}

// New returns an empty fleet.
func New() *Fleet {
	return &Fleet{
		instances: map[string]*fleet.Instance{},
		byKey:     map[string][]string{},
		unhealthy: map[string]bool{},
		slow:      map[string]bool{},
		address:   func(string) string { return "" },
		poll:      10 * time.Millisecond,
	}
}

// Factory serves every memory target from this one fleet.
func (f *Fleet) Factory(schemas.Target) (fleet.Fleet, error) { return f, nil }

// SetAddress sets how launched instances are addressed (e.g. an httptest server).
func (f *Fleet) SetAddress(fn func(version string) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.address = fn
}

// SetUnhealthy makes a version fail health checks: new instances fail WaitHealthy and
// existing ones report unhealthy.
func (f *Fleet) SetUnhealthy(version string, bad bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unhealthy[version] = bad
	for _, in := range f.instances {
		if in.Version == version {
			in.Healthy = !bad
		}
	}
}

// SetSlow makes a version's instances never become healthy, so WaitHealthy blocks.
func (f *Fleet) SetSlow(version string, slow bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slow[version] = slow
}

// SetSlowKey makes instances whose launch key ends with suffix never become healthy, so
// a test can hold one batch of a release mid-way.
func (f *Fleet) SetSlowKey(suffix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.slowKeys = append(f.slowKeys, suffix)
}

func (f *Fleet) isSlow(in *fleet.Instance) bool {
	if f.slow[in.Version] {
		return true
	}
	for _, k := range f.slowKeys {
		if strings.HasSuffix(in.LaunchKey, k) {
			return true
		}
	}
	return false
}

// SetConnections sets the open connections of an instance.
func (f *Fleet) SetConnections(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in, ok := f.instances[id]; ok {
		in.Connections = n
	}
}

// Seed adds n healthy attached instances of a version, as a fleet that already serves.
func (f *Fleet) Seed(version string, n int) []fleet.Instance {
	out, _ := f.Launch(context.Background(), fleet.LaunchRequest{Key: "seed/" + version, Version: version, Count: n})
	ids := make([]string, len(out))
	for i, in := range out {
		ids[i] = in.ID
	}
	_ = f.Attach(context.Background(), ids)
	for _, id := range ids {
		f.instances[id].Healthy = true
	}
	st, _ := f.Describe(context.Background())
	return st.Instances
}

// Launches is how many instances were ever created.
func (f *Fleet) Launches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.launches
}

// Terminated lists terminated instance IDs in order.
func (f *Fleet) Terminated() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.terminated)
}

// Describe returns the live instances, ordered by ID number.
func (f *Fleet) Describe(context.Context) (fleet.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := fleet.State{Weights: map[string]int{}}
	for _, in := range f.instances {
		st.Instances = append(st.Instances, *in)
	}
	sort.Slice(st.Instances, func(i, j int) bool { return idNum(st.Instances[i].ID) < idNum(st.Instances[j].ID) })
	for v, w := range f.weights {
		st.Weights[v] = w
	}
	return st, nil
}

func idNum(id string) int {
	var n int
	_, _ = fmt.Sscanf(id, "mem-%d", &n)
	return n
}

// Launch creates instances; the same key returns the same instances.
func (f *Fleet) Launch(_ context.Context, req fleet.LaunchRequest) ([]fleet.Instance, error) {
	if req.Key == "" || req.Count < 0 {
		return nil, fmt.Errorf("%w: launch needs a key and a count >= 0", fleet.ErrInvalidConfig)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ids, ok := f.byKey[req.Key]
	if !ok {
		for range req.Count {
			f.next++
			f.launches++
			id := fmt.Sprintf("mem-%d", f.next)
			f.instances[id] = &fleet.Instance{ID: id, Version: req.Version, Address: f.address(req.Version), LaunchKey: req.Key}
			ids = append(ids, id)
		}
		f.byKey[req.Key] = ids
	}
	var out []fleet.Instance
	for _, id := range ids {
		if in, ok := f.instances[id]; ok {
			out = append(out, *in)
		}
	}
	return out, nil
}

// WaitHealthy marks instances healthy, or fails at once for an unhealthy version.
func (f *Fleet) WaitHealthy(ctx context.Context, ids []string) error {
	for {
		f.mu.Lock()
		waiting := false
		for _, id := range ids {
			in, ok := f.instances[id]
			switch {
			case !ok:
				f.mu.Unlock()
				return fmt.Errorf("%w: %s", fleet.ErrNotFound, id)
			case f.unhealthy[in.Version]:
				f.mu.Unlock()
				return fmt.Errorf("instance %s (%s) failed its health check", id, in.Version)
			case f.isSlow(in):
				waiting = true
			default:
				in.Healthy = true
			}
		}
		f.mu.Unlock()
		if !waiting {
			return nil
		}
		fleet.Progress(ctx, "waiting for health")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.poll):
		}
	}
}

func (f *Fleet) each(ids []string, fn func(*fleet.Instance)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		in, ok := f.instances[id]
		if !ok {
			return fmt.Errorf("%w: %s", fleet.ErrNotFound, id)
		}
		fn(in)
	}
	return nil
}

// Attach puts instances in the load balancer.
func (f *Fleet) Attach(_ context.Context, ids []string) error {
	return f.each(ids, func(in *fleet.Instance) { in.Attached, in.Draining = true, false })
}

// Detach takes instances out of the load balancer; open connections keep draining.
func (f *Fleet) Detach(_ context.Context, ids []string) error {
	return f.each(ids, func(in *fleet.Instance) { in.Attached, in.Draining = false, true })
}

// SetWeights records per-version weights; an empty map goes back to an equal share
// per instance. Like the local cloud, it refuses unnamed versions and negative weights.
func (f *Fleet) SetWeights(_ context.Context, w map[string]int) error {
	for v, n := range w {
		if v == "" || n < 0 {
			return fmt.Errorf("weights: version %q has weight %d; versions must be named and weights >= 0", v, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.weightsHistory = append(f.weightsHistory, maps.Clone(w))
	if len(w) == 0 {
		w = nil
	}
	f.weights = maps.Clone(w) // the caller's map stays the caller's
	return nil
}

// WeightsHistory returns every weights map SetWeights was given, oldest first (an
// empty map for a return to the equal share), so tests can assert the shares a release
// stepped through and that it always restored them.
func (f *Fleet) WeightsHistory() []map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]map[string]int, len(f.weightsHistory))
	for i, w := range f.weightsHistory {
		out[i] = maps.Clone(w)
		if out[i] == nil {
			out[i] = map[string]int{}
		}
	}
	return out
}

// WaitDrained waits until the instances hold no connections.
func (f *Fleet) WaitDrained(ctx context.Context, ids []string) error {
	for {
		f.mu.Lock()
		open := 0
		for _, id := range ids {
			if in, ok := f.instances[id]; ok {
				open += in.Connections
			}
		}
		f.mu.Unlock()
		if open == 0 {
			return nil
		}
		fleet.Progress(ctx, open)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.poll):
		}
	}
}

// Terminate removes instances; unknown IDs are already gone, which is fine on retry.
func (f *Fleet) Terminate(_ context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		if _, ok := f.instances[id]; ok {
			delete(f.instances, id)
			f.terminated = append(f.terminated, id)
		}
	}
	return nil
}
