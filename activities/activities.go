// Package activities holds every side effect of a release. Activities are methods on
// Activities, whose dependencies are injected; they never decide what the release does.
package activities

import (
	"net/http"

	"github.com/zerodown/zerodown/fleet"
)

// Activities is registered with the worker; its methods are the release's activities.
type Activities struct {
	Fleets fleet.Registry
	// HTTP calls instances directly for hooks and session migration.
	HTTP *http.Client
}

// New returns Activities serving the given fleets.
func New(fleets fleet.Registry) *Activities {
	return &Activities{Fleets: fleets, HTTP: &http.Client{}}
}
