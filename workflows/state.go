package workflows

import (
	"time"

	"github.com/zerodown/zerodown/signing"
)

// ReleaseState is everything a release carries across continue-as-new.
type ReleaseState struct {
	Status Status `json:"status"`
	// Key is stable across runs; launch idempotency keys derive from it.
	Key          string        `json:"key"`
	Image        string        `json:"image,omitempty"`
	OldIDs       []string      `json:"oldIds"`      // what served when the release began
	CanaryIDs    []string      `json:"canaryIds"`   // the canary, also in NewIDs
	NewIDs       []string      `json:"newIds"`      // every instance of the new version
	DetachedOld  []string      `json:"detachedOld"` // old instances out of the load balancer
	SoakElapsed  time.Duration `json:"soakElapsed"`
	PromoteBy    string        `json:"promoteBy,omitempty"` // who asked to skip the soak
	Notify       NotifyState   `json:"notify"`
	Prepared     bool          `json:"prepared,omitempty"` // PrepareFleet ran: FinishFleet must too
	Inconclusive int           `json:"inconclusive"`
	FinalizeBy   string        `json:"finalizeBy,omitempty"` // the change that finalized a held release
	// Weighted says the balancer shares traffic by the weights the release set, not by
	// instance count: they must be cleared on the way out.
	Weighted bool `json:"weighted,omitempty"`
	// Touched lists the servers of an in-place release in the order they were taken out
	// for the new version: the rollback walks it backwards.
	Touched []string `json:"touched,omitempty"`
	// Reverted lists the servers an operator sent back to the previous version.
	Reverted []string `json:"reverted,omitempty"`
	// Starter is whose key signed the start, if it was signed: four-eyes compares keys.
	Starter signing.Verified `json:"starter,omitempty"`
}

// NotifyState is where a release's notifications stand: the thread to reply in, the last
// sequence number sent, and failures.
type NotifyState struct {
	Thread    string `json:"thread,omitempty"`
	Seq       int    `json:"seq"`
	Failures  int    `json:"failures,omitempty"`
	LastError string `json:"lastError,omitempty"`
}
