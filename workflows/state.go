package workflows

import "time"

// ReleaseState is everything a release carries across continue-as-new.
type ReleaseState struct {
	Status       Status        `json:"status"`
	Key          string        `json:"key"` // stable across runs: idempotency keys derive from it
	OldIDs       []string      `json:"oldIds"`
	CanaryIDs    []string      `json:"canaryIds"`
	NewIDs       []string      `json:"newIds"`
	DetachedOld  []string      `json:"detachedOld"`
	SoakElapsed  time.Duration `json:"soakElapsed"`
	Inconclusive int           `json:"inconclusive"`
}
