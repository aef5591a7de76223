package memory

import (
	"maps"
	"slices"
	"sync"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// FleetEnv is the entry of target.local.env that names a memory target's fleet among
// Fleets. A memory target has no settings of its own and ignores target.local, so the
// name rides there: it reaches every activity with the target, as a real provider's
// fleet identity (an endpoint, a target group) does.
const FleetEnv = "ZERODOWN_MEMORY_FLEET"

// Fleets keeps one in-memory fleet per name, so that many releases served by one worker
// (a benchmark runs a thousand) each see a fleet of their own, as releases of different
// services do on a real provider. With a single Fleet they would all see each other's
// instances and take them for their old fleet.
type Fleets struct {
	mu     sync.Mutex
	fleets map[string]*Fleet
}

// NewFleets returns an empty set of fleets.
func NewFleets() *Fleets {
	return &Fleets{fleets: map[string]*Fleet{}}
}

// InFleet returns t with its instances in the fleet called name (a copy: t is not changed).
func InFleet(t schemas.Target, name string) schemas.Target {
	local := schemas.LocalSpec{}
	if t.Local != nil {
		local = *t.Local
	}
	env := make(map[string]string, len(local.Env)+1)
	maps.Copy(env, local.Env)
	env[FleetEnv] = name
	local.Env = env
	t.Local = &local
	return t
}

// NameOf is the fleet a target names; "" for a target that names none.
func NameOf(t schemas.Target) string {
	if t.Local == nil {
		return ""
	}
	return t.Local.Env[FleetEnv]
}

// Fleet returns the fleet called name, creating it empty on first use.
func (s *Fleets) Fleet(name string) *Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fleets[name]
	if !ok {
		f = New()
		s.fleets[name] = f
	}
	return f
}

// Factory serves each memory target from the fleet it names (targets that name none
// share the fleet called "").
func (s *Fleets) Factory(t schemas.Target) (fleet.Fleet, error) {
	return s.Fleet(NameOf(t)), nil
}

// Names lists the fleets created so far, sorted.
func (s *Fleets) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.fleets))
	for n := range s.fleets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
