package workflows

// What callers see of an in-place release (fixed servers upgraded where they stand):
// the state of each server, and the revert update.

import "github.com/zerodown/zerodown/signing"

// UpdateRevert sends one server of an in-place release back to the previous version.
const UpdateRevert = "revert"

// What a release does after a revert (RevertRequest.Then).
const (
	// ThenContinue goes on with the other servers; the reverted one stays on the
	// previous version, and the release ends with it there.
	ThenContinue = "continue"
	// ThenStop ends the release: every other server already upgraded is rolled back,
	// one at a time in reverse order, and the release ends RolledBack.
	ThenStop = "stop"
)

// RevertRequest is the payload of the revert update.
type RevertRequest struct {
	By     string `json:"by"`
	Server string `json:"server"`
	Reason string `json:"reason"`
	// Then is ThenContinue (the default) or ThenStop.
	Then      string          `json:"then,omitempty"`
	Signature *signing.Signed `json:"signature,omitempty"`
}

// Actor is who sent the request.
func (r RevertRequest) Actor() string { return r.By }

// Server states of an in-place release (ServerStatus.State).
const (
	ServerWaiting   = "waiting"   // not touched yet
	ServerDraining  = "draining"  // no new sessions; open ones finish or move
	ServerDeploying = "deploying" // in maintenance, the deploy command runs
	ServerChecking  = "checking"  // out of maintenance, HAProxy's checks and the preTraffic hooks run
	ServerServing   = "serving"   // in service on Version
	ServerReverting = "reverting" // an operator asked it back to the previous version
	ServerReverted  = "reverted"  // back on the previous version by an operator's revert
	ServerFailed    = "failed"    // a step failed on it; the rollback takes it back
)

// ServerStatus is one fixed server of an in-place release.
type ServerStatus struct {
	Name string `json:"name"`
	// Version is the version it runs as far as the release knows.
	Version string `json:"version,omitempty"`
	State   string `json:"state"`
}
