// Package workerapp runs the zerodown worker: it connects to Temporal, registers
// ReleaseWorkflow and the activities on the zerodown task queue, serves the SDK metrics
// for Prometheus and stops gracefully. The zerodown-worker binary, `zerodown worker`,
// `make demo` and the integration tests all run this same code.
package workerapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/workflows"
)

// Defaults of Options and of the command-line flags that set them.
const (
	DefaultMetricsAddress = "127.0.0.1:9464"
	// DefaultStopTimeout is how long a stopping worker lets running activities finish
	// (a drain, a launch) before cancelling them; Temporal retries them elsewhere anyway.
	DefaultStopTimeout = 30 * time.Second
	// DefaultConnectTimeout is how long the worker keeps trying to reach Temporal at
	// start, so that a worker started alongside the server (compose, make demo) waits for it.
	DefaultConnectTimeout = time.Minute
)

// Options configure Run. The zero value connects with the environment configuration,
// serves the default providers and no metrics.
type Options struct {
	Connection Connection
	// Client, if set, is reused instead of dialing (tests): Run derives a client from its
	// connection for Connection.Namespace ("default" if empty) and does not close it.
	Client client.Client
	// Fleets serves the providers; nil builds them from Providers.
	Fleets fleet.Registry
	// Providers names the fleet providers to serve when Fleets is nil (DefaultProviders if empty).
	Providers []string
	// Notifier tells people about releases; nil means NotifierFromEnv (Slack when
	// $SLACK_BOT_TOKEN is set, else the log).
	Notifier notify.Notifier
	// Pager pages people on call; nil means PagerFromEnv (PagerDuty when
	// $ZERODOWN_PAGERDUTY_ROUTING_KEY is set, else nobody).
	Pager notify.Pager
	// LocalEndpoint is the local cloud API used when a spec names none.
	LocalEndpoint string
	// MetricsAddress is host:port for /metrics; empty serves no metrics. Port 0 picks one
	// (see Ready.MetricsAddress).
	MetricsAddress string
	StopTimeout    time.Duration
	ConnectTimeout time.Duration
	// TaskQueue defaults to workflows.TaskQueue; tests may isolate themselves on another.
	TaskQueue string
	Logger    *slog.Logger
	// OnReady, if set, is called once the worker polls its task queue.
	OnReady func(Ready)
}

// Ready describes a worker that has started.
type Ready struct {
	TaskQueue      string
	Namespace      string
	MetricsAddress string // where /metrics listens, "" if disabled
}

// Run runs a worker until ctx ends, then stops it gracefully: new tasks are no longer
// polled and running activities get StopTimeout to finish. It returns nil after a
// requested stop and an error if the worker could not start or failed fatally.
func Run(ctx context.Context, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	red, logger := redaction(logger) // secrets never leave the worker: see redact.go
	taskQueue := opts.TaskQueue
	if taskQueue == "" {
		taskQueue = workflows.TaskQueue
	}
	fleets := opts.Fleets
	if fleets == nil {
		var err error
		if fleets, err = BuildFleets(opts.Providers, opts.LocalEndpoint); err != nil {
			return err
		}
	}

	var (
		handler client.MetricsHandler
		ready   = Ready{TaskQueue: taskQueue}
	)
	if opts.MetricsAddress != "" {
		// Listen before connecting so that a port already taken fails the start at once.
		ln, err := net.Listen("tcp", opts.MetricsAddress)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		m := newMetrics(logger)
		defer func() { _ = m.closer.Close() }()
		srv := &http.Server{Handler: m.http, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server stopped", "error", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		handler = m.handler
		ready.MetricsAddress = ln.Addr().String()
		logger.Info("serving metrics", "url", "http://"+ready.MetricsAddress+MetricsPath)
	}

	c, err := connect(ctx, opts, logger, handler)
	if err != nil {
		return err
	}
	defer c.Close()
	ready.Namespace = namespaceOf(opts)

	fatal := make(chan error, 1)
	stopTimeout := opts.StopTimeout
	if stopTimeout == 0 {
		stopTimeout = DefaultStopTimeout
	}
	w := worker.New(c, taskQueue, worker.Options{
		WorkerStopTimeout: stopTimeout,
		// Every activity heartbeats while it runs, and heartbeats reach the server at
		// least every few seconds, so the workflow's short heartbeat timeout notices a
		// dead worker quickly without taking a slow one for dead.
		Interceptors:                 []interceptor.WorkerInterceptor{activities.NewRedactInterceptor(red), activities.NewHeartbeatInterceptor(activities.AutoHeartbeatEvery)},
		MaxHeartbeatThrottleInterval: activities.AutoHeartbeatEvery,
		OnFatalError: func(err error) {
			select {
			case fatal <- err:
			default:
			}
		},
	})
	acts := activities.New(fleets, Analyzers())
	acts.Notifier = opts.Notifier
	if acts.Notifier == nil {
		acts.Notifier = NotifierFromEnv(logger)
	}
	acts.Notifier = RedactingNotifier(acts.Notifier, red)
	acts.Pager = opts.Pager
	if acts.Pager == nil {
		acts.Pager = PagerFromEnv()
	}
	// Reading freezes queries their workflows: the activity needs this worker's client.
	acts.Freezes = &activities.Freezes{Client: c}
	RegisterWith(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	logger.Info("zerodown worker started", "taskQueue", taskQueue, "namespace", ready.Namespace)
	if opts.OnReady != nil {
		opts.OnReady(ready)
	}

	select {
	case <-ctx.Done():
		logger.Info("stopping zerodown worker: waiting for running activities", "timeout", stopTimeout)
		w.Stop()
		logger.Info("zerodown worker stopped")
		return nil
	case err := <-fatal:
		w.Stop()
		return fmt.Errorf("worker failed: %w", err)
	}
}

// Register registers the release workflow and its activities on w; exported so that
// replay tests and other hosts register exactly what the worker does.
func Register(w worker.Registry, fleets fleet.Registry) {
	RegisterWith(w, activities.New(fleets, Analyzers()))
}

// RegisterWith registers the release, change, freeze and scheduled-run workflows and the
// given activities, whose dependencies (notifier, the freeze reader...) the caller has
// set: without acts.Freezes, no environment is ever frozen.
func RegisterWith(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.ChangeWorkflow, workflow.RegisterOptions{Name: workflows.ChangeWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.FreezeWorkflow, workflow.RegisterOptions{Name: workflows.FreezeWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.ScheduledRunWorkflow, workflow.RegisterOptions{Name: workflows.ScheduledRunWorkflowName})
	w.RegisterActivity(acts)
}

func namespaceOf(opts Options) string {
	if opts.Client != nil {
		if opts.Connection.Namespace != "" {
			return opts.Connection.Namespace
		}
		return client.DefaultNamespace
	}
	co, err := opts.Connection.ClientOptions()
	if err != nil {
		return ""
	}
	return co.Namespace
}

// connect reuses opts.Client or dials, retrying until ConnectTimeout so that a worker
// started together with its server waits for it instead of exiting.
func connect(ctx context.Context, opts Options, logger *slog.Logger, handler client.MetricsHandler) (client.Client, error) {
	if opts.Client != nil {
		co := client.Options{Namespace: opts.Connection.Namespace, Logger: sdklog.NewStructuredLogger(logger)}
		if handler != nil {
			co.MetricsHandler = handler
		}
		dc, err := DataConverter()
		if err != nil {
			return nil, err
		}
		co.DataConverter = dc
		return client.NewClientFromExistingWithContext(ctx, opts.Client, co)
	}
	timeout := opts.ConnectTimeout
	if timeout == 0 {
		timeout = DefaultConnectTimeout
	}
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := opts.Connection.Dial(dctx, logger, handler)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		if attempt == 0 {
			logger.Warn("Temporal is not reachable yet; retrying", "error", err, "for", timeout)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Second):
		}
	}
}
