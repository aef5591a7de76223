package activities

import (
	"context"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// PrepareInput names the release that is about to change a fleet.
type PrepareInput struct {
	Target schemas.Target `json:"target"`
	// Release is the release's key (stable across continue-as-new).
	Release string `json:"release"`
}

// FinishInput says how the release that prepared a fleet ended.
type FinishInput struct {
	Target  schemas.Target `json:"target"`
	Release string         `json:"release"`
	// Succeeded is true only when the new version serves (phase Succeeded).
	Succeeded bool   `json:"succeeded"`
	Version   string `json:"version"`
	Image     string `json:"image,omitempty"`
}

// PrepareFleet readies the fleet for a release before anything is launched (on AWS:
// holds back the Auto Scaling group). Fleets with nothing to prepare do nothing.
func (a *Activities) PrepareFleet(ctx context.Context, in PrepareInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	lc, ok := f.(fleet.Lifecycle)
	if !ok {
		return nil
	}
	return classify(lc.Prepare(ctx, in.Release))
}

// FinishFleet restores the fleet after a release, on every way out (on AWS: resumes the
// Auto Scaling group and, after a success, points it at the new image). Idempotent.
func (a *Activities) FinishFleet(ctx context.Context, in FinishInput) error {
	f, err := a.fleet(in.Target)
	if err != nil {
		return err
	}
	lc, ok := f.(fleet.Lifecycle)
	if !ok {
		return nil
	}
	return classify(lc.Finish(ctx, fleet.FinishRequest{Release: in.Release, Succeeded: in.Succeeded, Version: in.Version, Image: in.Image}))
}
