package memory

import (
	"slices"
	"sync"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

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

// InFleet returns t with its instances in the fleet called name (a copy: t is not
// changed), through target.memory.fleet.
func InFleet(t schemas.Target, name string) schemas.Target {
	t.Memory = &schemas.MemorySpec{Fleet: name}
	return t
}

// NameOf is the fleet a target names; "" for a target that names none.
func NameOf(t schemas.Target) string {
	if t.Memory == nil {
		return ""
	}
	return t.Memory.Fleet
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
