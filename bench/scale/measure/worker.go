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

// Worker is the zerodown worker of a benchmark, or several workers on one task queue,
// in this process so that their fleets can be seeded and inspected, and their memory read
// from /proc/self. Several workers share Fleets (memory fleets live in a process: two
// worker processes could not both see them) but each has its own Temporal client
// connection and SDK worker, so Temporal spreads tasks between them as between processes.
type Worker struct {
	// Fleets holds one memory fleet per release, named after its service.
	Fleets *memory.Fleets
	// MetricsURLs serve each worker's SDK metrics (task latencies) in the Prometheus format.
	MetricsURLs []string

	cancel context.CancelFunc
	done   []chan error
}

// StartWorker runs one worker on c until Stop, and returns once it polls.
func StartWorker(ctx context.Context, c client.Client) (*Worker, error) {
	return StartWorkers(ctx, []client.Client{c})
}

// StartWorkers runs one worker per client, all on the default task queue and the same
// fleets, until Stop, and returns once every one polls.
func StartWorkers(ctx context.Context, clients []client.Client) (*Worker, error) {
	w := &Worker{Fleets: memory.NewFleets()}
	wctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	for _, c := range clients {
		ready := make(chan workerapp.Ready, 1)
		done := make(chan error, 1)
		w.done = append(w.done, done)
		go func() {
			done <- workerapp.Run(wctx, workerapp.Options{
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
			w.MetricsURLs = append(w.MetricsURLs, "http://"+r.MetricsAddress+workerapp.MetricsPath)
		case err := <-done:
			cancel()
			return nil, fmt.Errorf("the worker did not start: %w", err)
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		}
	}
	return w, nil
}

// Stop stops the workers and waits for them.
func (w *Worker) Stop() error {
	w.cancel()
	var errs []error
	deadline := time.After(time.Minute)
	for _, done := range w.done {
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-deadline:
			return errors.New("a worker did not stop within a minute")
		}
	}
	return errors.Join(errs...)
}
