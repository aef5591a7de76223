package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// ErrTypeBakeFailed says the image could not be built; retrying would build the same
// thing, so the release rolls back instead.
const ErrTypeBakeFailed = "BakeFailed"

// BakeInput asks for the image of a version.
type BakeInput struct {
	Spec    schemas.Spec `json:"spec"`
	Version string       `json:"version"`
}

// Bake returns the image the release launches. With method none the version is the
// image. Other methods are built by the fleet's provider (a fleet.Baker: the aws
// provider bakes AMIs with ec2-image or packer), heartbeating while it works, for at
// most bake.timeout. A bake that failed, or took too long, is not retried.
func (a *Activities) Bake(ctx context.Context, in BakeInput) (string, error) {
	method := in.Spec.Bake.Method
	if method == "" || method == schemas.BakeNone {
		return in.Version, nil
	}
	f, err := a.fleet(in.Spec.Target)
	if err != nil {
		return "", err
	}
	b, ok := f.(fleet.Baker)
	if !ok {
		return "", nonRetryable(ErrTypeNotSupported, fmt.Errorf("bake.method %s needs a provider that bakes images (aws); target.provider %s does not", method, in.Spec.Target.Provider))
	}
	timeout := in.Spec.Bake.TimeoutOrDefault()
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	image, err := b.Bake(a.withHeartbeat(bctx), fleet.BakeRequest{
		Service: in.Spec.Service, Environment: in.Spec.Environment, Version: in.Version, Bake: in.Spec.Bake,
	})
	switch {
	case err == nil:
		return image, nil
	case ctx.Err() != nil:
		return "", err // cancelled, or the activity timed out: Temporal decides
	case bctx.Err() != nil:
		return "", nonRetryable(ErrTypeBakeFailed, fmt.Errorf("baking %s took longer than bake.timeout (%s): %w", in.Version, timeout, err))
	case errors.Is(err, fleet.ErrBakeFailed):
		return "", nonRetryable(ErrTypeBakeFailed, err)
	default:
		return "", classify(err)
	}
}
