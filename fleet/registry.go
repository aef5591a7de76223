package fleet

import (
	"fmt"

	"github.com/zerodown/zerodown/schemas"
)

// Factory builds the Fleet a target describes.
type Factory func(target schemas.Target) (Fleet, error)

// Registry maps a provider name (schemas.ProviderLocal, ...) to its factory.
type Registry map[string]Factory

// For returns the fleet for a target, or ErrInvalidConfig when no provider serves it.
func (r Registry) For(target schemas.Target) (Fleet, error) {
	f, ok := r[target.Provider]
	if !ok {
		return nil, fmt.Errorf("%w: provider %q is not served by this worker", ErrInvalidConfig, target.Provider)
	}
	return f(target)
}
