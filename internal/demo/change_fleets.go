package demo

// How the demo sees a change's fleets: what each serves, and when both were back on
// their old versions after a failure.

import (
	"context"
	"time"

	"github.com/zerodown/zerodown/fleet/local"
)

// fleetSample is what both fleets served at one moment.
type fleetSample struct {
	at    time.Time
	onOld bool // every service's attached, healthy instances are all of its old version
}

// watchFleets samples both fleets every 100ms until ctx ends, then sends the samples.
func (cw *changeWorld) watchFleets(ctx context.Context) <-chan []fleetSample {
	out := make(chan []fleetSample, 1)
	go func() {
		var samples []fleetSample
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			onOld, ok := true, true
			for name, f := range cw.fleets {
				m, err := servingOf(ctx, f)
				if err != nil {
					ok = false
					break
				}
				if m[cw.old[name]] == 0 || len(m) != 1 {
					onOld = false
				}
			}
			if ok {
				samples = append(samples, fleetSample{at: time.Now(), onOld: onOld})
			}
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		out <- samples
	}()
	return out
}

// backOnOld is the first sample after since from which on both fleets served only their
// old versions, to the end; zero if they never did.
func backOnOld(samples []fleetSample, since time.Time) time.Time {
	var back time.Time
	for _, s := range samples {
		switch {
		case s.at.Before(since):
		case !s.onOld:
			back = time.Time{}
		case back.IsZero():
			back = s.at
		}
	}
	return back
}

// servingOf counts the healthy attached instances of f per version.
func servingOf(ctx context.Context, f *local.Fleet) (map[string]int, error) {
	st, err := f.Describe(ctx)
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, in := range st.Instances {
		if in.Attached && in.Healthy {
			m[in.Version]++
		}
	}
	return m, nil
}
