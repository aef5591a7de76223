package workerapp

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// MetricsPath is where the worker serves Prometheus metrics.
const MetricsPath = "/metrics"

// metrics is the SDK metrics pipeline: SDK -> tally scope -> Prometheus registry -> /metrics.
type metrics struct {
	handler client.MetricsHandler
	http    http.Handler
	closer  io.Closer
}

// newMetrics follows the samples-go "metrics" sample, except that the registry is private
// (so several workers in one test process never collide on the global registry) and the
// HTTP server is ours (so it shuts down with the worker and can listen on port 0).
func newMetrics(logger *slog.Logger) *metrics {
	reg := prom.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer: reg,
		// Histograms aggregate across workers in PromQL; summaries do not.
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError: func(err error) {
			logger.Warn("prometheus metric registration failed", "error", err)
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		// No prefix: the SDK's names already start with temporal_, and keeping them
		// unchanged lets Temporal's published Grafana dashboards work as they are.
	}, time.Second)
	scope = sdktally.NewPrometheusNamingScope(scope)

	mux := http.NewServeMux()
	mux.Handle(MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	return &metrics{handler: sdktally.NewMetricsHandler(scope), http: mux, closer: closer}
}
