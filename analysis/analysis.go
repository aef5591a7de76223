// Package analysis judges a canary against its baseline. Providers implement Analyzer;
// the release workflow only sees their Result. Judge and Run hold the verdict rules the
// metric providers (analysis/prom, analysis/scrape) share; docs/analysis.md tells users.
package analysis

import (
	"context"
	"fmt"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/schemas"
)

// Verdicts of a check or of one metric.
const (
	Pass         = "Pass"
	Fail         = "Fail"
	Inconclusive = "Inconclusive"
)

// Request is one canary check.
type Request struct {
	// Release names the release (its workflow ID), so that providers keeping state
	// between checks (scrape) keep each release's apart. Optional.
	Release         string           `json:"release,omitempty"`
	Spec            schemas.Analysis `json:"spec"`
	Version         string           `json:"version"`
	BaselineVersion string           `json:"baselineVersion"`
	Canary          []fleet.Instance `json:"canary"`
	Baseline        []fleet.Instance `json:"baseline"`
}

// MetricResult is one metric's numbers within a check.
type MetricResult struct {
	Name     string  `json:"name"`
	Verdict  string  `json:"verdict"`
	Canary   float64 `json:"canary"`
	Baseline float64 `json:"baseline"`
	// CanarySamples and BaselineSamples count the samples behind the values.
	CanarySamples   int `json:"canarySamples,omitempty"`
	BaselineSamples int `json:"baselineSamples,omitempty"`
	// PValue is the Mann-Whitney test's, when the metric asks for it.
	PValue *float64 `json:"pValue,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// Result is the verdict of one check, with its numbers.
type Result struct {
	Time    time.Time      `json:"time"`
	Verdict string         `json:"verdict"`
	Summary string         `json:"summary"`
	Metrics []MetricResult `json:"metrics,omitempty"`
}

// Analyzer judges a canary.
type Analyzer interface {
	Analyze(ctx context.Context, req Request) (Result, error)
}

// Health passes when every canary instance is healthy: the check used when no metric
// analysis is configured.
type Health struct{}

// Analyze checks canary health.
func (Health) Analyze(_ context.Context, req Request) (Result, error) {
	if len(req.Canary) == 0 {
		return Result{Verdict: Fail, Summary: "no canary instance is running"}, nil
	}
	var bad []string
	for _, in := range req.Canary {
		if !in.Healthy {
			bad = append(bad, in.ID)
		}
	}
	if len(bad) > 0 {
		return Result{Verdict: Fail, Summary: fmt.Sprintf("%d of %d canary instance(s) unhealthy: %v", len(bad), len(req.Canary), bad)}, nil
	}
	return Result{Verdict: Pass, Summary: fmt.Sprintf("%d canary instance(s) healthy", len(req.Canary))}, nil
}
