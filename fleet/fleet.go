// Package fleet defines what zerodown needs from a fleet of instances behind a load
// balancer. Providers (fleet/local, fleet/memory, fleet/aws) implement Fleet and know
// nothing of Temporal.
package fleet

import (
	"context"
	"errors"

	"github.com/zerodown/zerodown/schemas"
)

// Instance is one server of the fleet.
type Instance struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// Address is host:port where the instance answers directly (hooks, migration, metrics).
	Address  string `json:"address"`
	Healthy  bool   `json:"healthy"`
	Attached bool   `json:"attached"` // in the load balancer and eligible for new traffic
	Draining bool   `json:"draining"` // detached, in-flight work finishing
	// Connections is the number of open connections the load balancer holds to it.
	Connections int `json:"connections"`
	// LaunchKey is the idempotency key it was launched with.
	LaunchKey string `json:"launchKey,omitempty"`
	Weight    int    `json:"weight,omitempty"`
}

// State is what a fleet looks like at one moment.
type State struct {
	Instances []Instance `json:"instances"`
	// Weights is the per-version traffic share, where the provider supports it.
	Weights map[string]int `json:"weights,omitempty"`
}

// LaunchRequest asks for Count instances of Version. The same Key always yields the
// same instances, so a retried launch never doubles the fleet.
type LaunchRequest struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	Image   string `json:"image,omitempty"`
	Count   int    `json:"count"`
}

// Fleet is a set of instances behind a load balancer.
type Fleet interface {
	Describe(ctx context.Context) (State, error)
	Launch(ctx context.Context, req LaunchRequest) ([]Instance, error)
	// WaitHealthy returns when every instance passes its health check. Implementations
	// call Progress (if set on ctx) while they wait so activities can heartbeat.
	WaitHealthy(ctx context.Context, ids []string) error
	Attach(ctx context.Context, ids []string) error
	SetWeights(ctx context.Context, weights map[string]int) error
	Detach(ctx context.Context, ids []string) error
	// WaitDrained returns when the instances hold no open connections, or ctx ends.
	WaitDrained(ctx context.Context, ids []string) error
	Terminate(ctx context.Context, ids []string) error
}

// ErrInvalidConfig marks errors that no retry can fix (bad endpoint, unknown provider).
var ErrInvalidConfig = errors.New("invalid fleet configuration")

// ErrNotFound is returned for instance IDs the fleet does not know.
var ErrNotFound = errors.New("instance not found")

// ErrBakeFailed marks a bake whose build itself failed (a provisioning script that
// failed, an image that ended "failed"): a retry would rebuild the same thing and fail
// the same way, so it is not retried.
var ErrBakeFailed = errors.New("bake failed")

// Lifecycle is implemented by fleets that must be readied for a release and restored
// after it, such as an AWS Auto Scaling group whose own scaling would otherwise fight
// the release. The release calls Prepare once before it launches anything and Finish
// on every way out: succeeded, rolled back, or failed. Both are idempotent and keyed
// by the release, so retries and a second call are harmless.
type Lifecycle interface {
	Prepare(ctx context.Context, release string) error
	Finish(ctx context.Context, req FinishRequest) error
}

// FinishRequest says how a release ended, so the fleet restores itself accordingly.
type FinishRequest struct {
	// Release is the key given to Prepare.
	Release string `json:"release"`
	// Succeeded says the new version now serves: the fleet's own scaling should launch
	// it from now on. False after a rollback or a failure: the old version stays.
	Succeeded bool   `json:"succeeded"`
	Version   string `json:"version"`
	// Image is the baked image of Version, if any.
	Image string `json:"image,omitempty"`
}

// Baker is implemented by fleets that can build the image a version runs from (an AWS
// AMI); the Bake activity dispatches bake methods other than "none" to it.
type Baker interface {
	// Bake returns the image of the version, building it unless one already exists.
	// Implementations call Progress (if set on ctx) while they work.
	Bake(ctx context.Context, req BakeRequest) (string, error)
}

// BakeRequest asks for the image of one version of a service.
type BakeRequest struct {
	Service     string       `json:"service"`
	Environment string       `json:"environment"`
	Version     string       `json:"version"`
	Bake        schemas.Bake `json:"bake"`
}

type progressKey struct{}

// WithProgress returns a context whose waits report progress through fn.
func WithProgress(ctx context.Context, fn func(detail any)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// Progress reports progress of a long wait, if the caller asked for it.
func Progress(ctx context.Context, detail any) {
	if fn, ok := ctx.Value(progressKey{}).(func(any)); ok {
		fn(detail)
	}
}

// ByVersion counts instances per version.
func (s State) ByVersion() map[string]int {
	m := map[string]int{}
	for _, in := range s.Instances {
		m[in.Version]++
	}
	return m
}

// Find returns the instance with the given ID.
func (s State) Find(id string) (Instance, bool) {
	for _, in := range s.Instances {
		if in.ID == id {
			return in, true
		}
	}
	return Instance{}, false
}
