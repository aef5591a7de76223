package notify

import "context"

// Pager pages the people on call (PagerDuty Events API v2 in notify/pagerduty). It holds
// its own credentials: a Page carries none, so none reaches the workflow's history.
type Pager interface {
	Page(ctx context.Context, p Page) error
}

// Page is one page: an incident keyed by DedupKey, so that the same page sent again (a
// retry, a replay) is the same incident, not a second one.
type Page struct {
	DedupKey string `json:"dedupKey"`
	Summary  string `json:"summary"`
	// Source is what the page is about (the release or change's workflow ID).
	Source   string `json:"source"`
	Severity string `json:"severity"`
}

// Severities of a page, as PagerDuty names them.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)
