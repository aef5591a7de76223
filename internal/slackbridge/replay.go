package slackbridge

import (
	"sync"
	"time"
)

// replayCache remembers the signatures of accepted requests until their timestamp is too
// old for the verifier to accept, so that a captured request cannot be sent again within
// that window, and after it is refused by the verifier anyway.
type replayCache struct {
	mu     sync.Mutex
	seen   map[string]time.Time // signature -> when it can be forgotten
	window time.Duration
	max    int
	now    func() time.Time
}

func newReplayCache(window time.Duration, max int, now func() time.Time) *replayCache {
	return &replayCache{seen: map[string]time.Time{}, window: window, max: max, now: now}
}

// first records sig and reports whether it is new. A request dated ts is accepted by the
// verifier until ts+window (and a request from the future from now on), so it is kept
// until then, with a minute's margin for clocks. When the cache is full of live entries,
// first refuses: an unchecked request must never go through.
func (c *replayCache) first(sig string, ts time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, dup := c.seen[sig]; dup {
		return false
	}
	if len(c.seen) >= c.max {
		for s, until := range c.seen {
			if now.After(until) {
				delete(c.seen, s)
			}
		}
		if len(c.seen) >= c.max {
			return false
		}
	}
	if ts.Before(now) {
		ts = now
	}
	c.seen[sig] = ts.Add(c.window + time.Minute)
	return true
}
