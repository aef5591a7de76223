package demo

// Traffic steps in the demo: while a release with canary.traffic runs, the demo follows
// the weights the balancer was given and opens a load window per step, so the summary
// can put the share each step asked beside the share the users measured.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zerodown/zerodown/internal/loadgen"
)

// TrafficSpec is the demo's release spec with traffic steps, relative to the root.
const TrafficSpec = "examples/demo/board-traffic.yaml"

// stepWindow names the load window of the step that gives version share percent.
func stepWindow(version string, share int) string {
	return fmt.Sprintf("step %s %d%%", version, share)
}

// StepShare is one traffic step: the share asked and the share of requests the load
// measured while the balancer held it.
type StepShare struct {
	Version  string  `json:"version"`
	Asked    int     `json:"asked"`
	Measured float64 `json:"measured"` // percent of the step's answered requests
	Requests int64   `json:"requests"`
}

// followSteps marks a load window for each share the balancer gives version, polling
// the local cloud's weights (a local call: a step's window opens within milliseconds of
// the change), until stop is called.
func (w *World) followSteps(ctx context.Context, gen *loadgen.Generator, version string) (stop func()) {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		current := 0
		for sctx.Err() == nil {
			st, err := w.Fleet().Describe(sctx)
			if err == nil {
				share := st.Weights[version]
				if len(st.Weights) == 0 {
					share = 0
				}
				if share != current {
					if share > 0 {
						gen.Mark(stepWindow(version, share) + "-start")
						w.Say("traffic: the canary %s takes %d%% of requests", version, share)
					} else {
						gen.Mark("step-end")
					}
					current = share
				}
			}
			select {
			case <-sctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// StepShares reads the steps of version from a load report.
func StepShares(r *loadgen.Report, version string) []StepShare {
	var out []StepShare
	prefix := "step " + version + " "
	for _, win := range r.Windows {
		rest, ok := strings.CutPrefix(win.Name, prefix)
		if !ok {
			continue
		}
		asked, err := strconv.Atoi(strings.TrimSuffix(rest, "%"))
		if err != nil {
			continue
		}
		var answered int64
		for _, v := range win.Versions {
			answered += v.Responses
		}
		out = append(out, StepShare{Version: version, Asked: asked, Measured: 100 * win.Share(version), Requests: answered})
	}
	return out
}
