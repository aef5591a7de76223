package sentry

import (
	"fmt"
	"math"
	"time"

	"github.com/zerodown/zerodown/analysis"
	"github.com/zerodown/zerodown/schemas"
)

// side is what Sentry said of one release within the window.
type side struct {
	release, project string
	end              time.Time
	errors           []bucket
	transactions     []bucket
	issues           []issue
	issuesCapped     bool
	err              error
}

// measure computes one metric for the side. A step counts as a sample only if Sentry
// heard from the release in it (an error or a transaction): a release that reports
// nothing has no data, and minSamples counts steps with evidence.
//
//   - errorEvents: the error events in the window; samples are per step.
//   - errorsPerRequest: error events / transactions in the window; samples are per step
//     with at least one transaction. Without any transaction there is no value.
//   - newIssues: the issues the release introduced that were seen in the window; a
//     step's sample is how many of them had been first seen by the step's end.
func (s *side) measure(query string) (analysis.Side, string, error) {
	out := analysis.NoSide()
	tx := map[int64]float64{}
	for _, b := range s.transactions {
		tx[b.start.Unix()] += b.count
	}
	var errs, reqs float64
	var steps []bucket // steps with any event, with their error count
	for _, b := range s.errors {
		errs += b.count
		if b.count > 0 || tx[b.start.Unix()] > 0 {
			steps = append(steps, b)
		}
	}
	for _, b := range s.transactions {
		reqs += b.count
	}
	heard := len(steps) > 0
	silent := fmt.Sprintf("Sentry has no event of release %q in project %s within the interval: does the service's SDK set its release to the version?", s.release, s.project)

	switch query {
	case schemas.SentryErrorEvents:
		if !heard {
			return out, silent, nil
		}
		out.Value = errs
		for _, b := range steps {
			out.Samples = append(out.Samples, b.count)
		}
	case schemas.SentryErrorsPerRequest:
		if reqs == 0 {
			if !heard {
				return out, silent, nil
			}
			return out, fmt.Sprintf("Sentry has errors but no transaction of release %q within the interval: turn the SDK's tracing on (TracesSampleRate) so requests are counted", s.release), nil
		}
		out.Value = errs / reqs
		for _, b := range steps {
			if t := tx[b.start.Unix()]; t > 0 {
				out.Samples = append(out.Samples, b.count/t)
			}
		}
	case schemas.SentryNewIssues:
		if !heard && len(s.issues) == 0 {
			return out, silent, nil
		}
		out.Value = float64(len(s.issues))
		for _, b := range steps {
			stepEnd := b.start.Add(stepOf(s.errors))
			n := 0
			for _, is := range s.issues {
				if is.FirstSeen.Before(stepEnd) {
					n++
				}
			}
			out.Samples = append(out.Samples, float64(n))
		}
		if s.issuesCapped {
			return out, fmt.Sprintf("at least %d new issues (read %d pages)", len(s.issues), MaxIssuePages), nil
		}
	default:
		return out, "", fmt.Errorf("%w: %q is not a sentry measure; use one of %v", analysis.ErrInvalidQuery, query, schemas.SentryQueries)
	}
	return out, "", nil
}

// stepOf is the bucket width Sentry answered with (it may coarsen the asked interval).
func stepOf(bs []bucket) time.Duration {
	if len(bs) >= 2 {
		return bs[1].start.Sub(bs[0].start)
	}
	return time.Duration(math.MaxInt64 / 2)
}
