package workerapp

import (
	"os"

	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/notify/pagerduty"
)

// The worker's paging configuration, never the spec's: a spec only says page: true.
const (
	// PagerDutyURLEnv is the Events API v2 endpoint (pagerduty.DefaultURL when unset).
	PagerDutyURLEnv = "ZERODOWN_PAGERDUTY_URL"
	// PagerDutyRoutingKeyEnv is the integration's routing key; without it nobody is paged
	// (and the status of a release that asked to page says so).
	PagerDutyRoutingKeyEnv = "ZERODOWN_PAGERDUTY_ROUTING_KEY"
)

// PagerFromEnv is the worker's pager: PagerDuty when $ZERODOWN_PAGERDUTY_ROUTING_KEY is
// set, else nil.
func PagerFromEnv() notify.Pager {
	key := os.Getenv(PagerDutyRoutingKeyEnv)
	if key == "" {
		return nil
	}
	return pagerduty.New(os.Getenv(PagerDutyURLEnv), key, nil)
}
