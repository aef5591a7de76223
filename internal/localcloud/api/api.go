// Package api is the wire format of the local cloud daemon's HTTP/JSON API. The daemon
// (internal/localcloud) and its client (fleet/local) share it so the two never drift.
package api

// Paths of the API. Every error answer is an Error with a 4xx or 5xx status.
const (
	PathInstances = "/v1/instances" // POST LaunchRequest -> LaunchResponse
	PathState     = "/v1/state"     // GET -> State (?all=1 also lists terminated instances)
	PathAttach    = "/v1/attach"    // POST IDs
	PathDetach    = "/v1/detach"    // POST DetachRequest
	PathWeights   = "/v1/weights"   // PUT map[version]weight; an empty map clears weights
	PathTerminate = "/v1/terminate" // POST IDs -> IDs of the terminated instances
	PathHealthz   = "/v1/healthz"   // GET
	PathShutdown  = "/v1/shutdown"  // POST ShutdownRequest: stops the daemon
)

// Instance statuses, in lifecycle order.
const (
	StatusPending    = "pending"    // recorded, process not started yet
	StatusRunning    = "running"    // process alive (healthy or not)
	StatusStopping   = "stopping"   // being terminated
	StatusExited     = "exited"     // process ended on its own (crash, bad command)
	StatusTerminated = "terminated" // stopped on request
)

// LaunchRequest starts Count instances of Version. The same Key always answers with
// the same instances, even after a daemon restart.
type LaunchRequest struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	Image   string `json:"image,omitempty"`
	Count   int    `json:"count"`
	// Command is the argv template: {{.Version}}, {{.Port}}, {{.ID}} and {{.Image}} are
	// substituted in every argument and in Env values.
	Command    []string          `json:"command"`
	Env        map[string]string `json:"env,omitempty"`
	HealthPath string            `json:"healthPath,omitempty"`
}

// LaunchResponse lists the instances of a launch; Created is false when the key was
// already known and nothing new was started.
type LaunchResponse struct {
	Instances []Instance `json:"instances"`
	Created   bool       `json:"created"`
}

// Instance is one instance as the daemon sees it.
type Instance struct {
	ID        string `json:"id"`
	Version   string `json:"version"`
	Address   string `json:"address"`
	LaunchKey string `json:"launchKey"`
	PID       int    `json:"pid,omitempty"`
	Status    string `json:"status"`
	Healthy   bool   `json:"healthy"`
	Attached  bool   `json:"attached"`
	Draining  bool   `json:"draining"`
	// Connections counts in-flight HTTP requests plus open WebSockets through the LB.
	Connections int `json:"connections"`
	WebSockets  int `json:"websockets"`
	Weight      int `json:"weight,omitempty"` // the weight of its version, when weights are set
	// ExitCode, LastError and LogTail explain an instance that exited on its own.
	ExitCode  *int   `json:"exitCode,omitempty"`
	LastError string `json:"lastError,omitempty"`
	LogPath   string `json:"logPath,omitempty"`
	LogTail   string `json:"logTail,omitempty"`
}

// State is the whole fleet.
type State struct {
	Instances    []Instance     `json:"instances"`
	Weights      map[string]int `json:"weights,omitempty"`
	LoadBalancer string         `json:"loadBalancer"`
	// Routed counts the answers the load balancer relayed per version since the daemon
	// started: the share each version really took, measured (differences between two
	// reads give the share over a window).
	Routed map[string]int64 `json:"routed,omitempty"`
}

// IDs names instances. All is honoured by terminate only.
type IDs struct {
	IDs []string `json:"ids"`
	All bool     `json:"all,omitempty"`
}

// DetachRequest takes instances out of the load balancer. In-flight requests finish
// and open WebSockets stay until they close or DrainTimeout (a Go duration, default
// the daemon's) passes; then they are closed.
type DetachRequest struct {
	IDs          []string `json:"ids"`
	DrainTimeout string   `json:"drainTimeout,omitempty"`
}

// ShutdownRequest stops the daemon; with Terminate it first stops every instance. With
// KeepInstances it leaves them running for the next daemon to adopt even when it was
// told to terminate them on exit: a restart, not a stop.
type ShutdownRequest struct {
	Terminate     bool `json:"terminate"`
	KeepInstances bool `json:"keepInstances,omitempty"`
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

// HeaderInstance names, on every response the load balancer relays, the instance that
// served it.
const HeaderInstance = "X-Zerodown-Instance"

// CookieBucket is the cookie in which the load balancer gives each client a bucket in
// [0, Buckets): the serving versions are laid over the buckets by share, so a client that
// sends its bucket back stays on its version while the version serves, and a growing
// canary only ever gains users.
const CookieBucket = "zerodown_bucket"

// Buckets is the number of buckets: shares are placed to a hundredth of a percent.
const Buckets = 10_000

// RoutedShare is the share of the answers relayed between two reads of the state that
// version served, and how many answers that share is of: the measured share of a window.
func RoutedShare(before, after State, version string) (share float64, answers int64) {
	var mine int64
	for v, n := range after.Routed {
		d := n - before.Routed[v]
		answers += d
		if v == version {
			mine = d
		}
	}
	if answers == 0 {
		return 0, 0
	}
	return float64(mine) / float64(answers), answers
}
