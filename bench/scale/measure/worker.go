// Package measure runs many zerodown releases against a real Temporal server, served by
// one in-process worker on in-memory fleets, and measures what they cost: how long a
// thousand concurrent releases take, the worker's memory and task latencies, and how
// many history events a long soak leaves in each run of its continue-as-new chain.
// bench/scale prints its tables and records them in BENCHMARKS.md; a small run is a test.
package measure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/workerapp"
	"github.com/zerodown/zerodown/schemas"
)

// Worker is the one zerodown worker of a benchmark, in this process so that its fleets
// can be seeded and inspected, and its memory read from /proc/self.
type Worker struct {
	// Fleets holds one memory fleet per release, named after its service.
	Fleets *memory.Fleets
	// MetricsURL serves the SDK's metrics (task latencies) in the Prometheus format.
	MetricsURL string

	cancel context.CancelFunc
	done   chan error
}

// StartWorker runs the worker on c until Stop, and returns once it polls.
func StartWorker(ctx context.Context, c client.Client) (*Worker, error) {
	w := &Worker{Fleets: memory.NewFleets(), done: make(chan error, 1)}
	wctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	ready := make(chan workerapp.Ready, 1)
	go func() {
		w.done <- workerapp.Run(wctx, workerapp.Options{
			Client:         c,
			Fleets:         fleet.Registry{schemas.ProviderMemory: w.Fleets.Factory},
			MetricsAddress: "127.0.0.1:0",
			StopTimeout:    5 * time.Second,
			Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
			OnReady:        func(r workerapp.Ready) { ready <- r },
		})
	}()
	select {
	case r := <-ready:
		w.MetricsURL = "http://" + r.MetricsAddress + workerapp.MetricsPath
		return w, nil
	case err := <-w.done:
		cancel()
		return nil, fmt.Errorf("the worker did not start: %w", err)
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
}

// Stop stops the worker and waits for it.
func (w *Worker) Stop() error {
	w.cancel()
	select {
	case err := <-w.done:
		return err
	case <-time.After(time.Minute):
		return errors.New("the worker did not stop within a minute")
	}
}
