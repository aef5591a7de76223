package workerapp

import (
	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/analysis/prom"
	"github.com/zerodown/zerodown/analysis/scrape"
	"github.com/zerodown/zerodown/analysis/sentry"
	"github.com/zerodown/zerodown/schemas"
)

// Analyzers builds the canary analysis providers that do I/O of their own, as fleets are
// built here: the workflow and the activities package never import their libraries. The
// scrape analyzer keeps samplers between checks, so one set lives as long as the worker.
func Analyzers() map[string]analysis.Analyzer {
	return map[string]analysis.Analyzer{
		schemas.AnalysisScrape:     scrape.New(),
		schemas.AnalysisPrometheus: prom.New(),
		schemas.AnalysisSentry:     sentry.New(), // token: the worker's SENTRY_AUTH_TOKEN
	}
}
