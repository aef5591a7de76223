package analysistest

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Paths the load can request: the API, where the demo service's faults apply, and the
// smoke endpoint, which they never touch. Both count in http_requests_total, so moving
// a faulty instance's load from Smoke to API makes it start failing at a known instant.
const (
	APIPath   = "/api/boards/analysis/items?limit=1"
	SmokePath = "/smoke"
)

// Load sends a steady stream of GET requests to each of a set of instances directly
// (not through the load balancer), so every instance gets the same known traffic.
type Load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	paths  sync.Map // address -> path
	sent   atomic.Int64
	failed atomic.Int64
	// lastServed is when an instance last answered a request sent through a load
	// balancer, by the instance id it names (the local cloud's X-Zerodown-Instance).
	lastServed sync.Map
}

// InstanceHeader names the instance that served a request through the local cloud.
const InstanceHeader = "X-Zerodown-Instance"

// StartLoad sends perSecond requests a second to every address, to path.
func StartLoad(addrs []string, perSecond int, path string) *Load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cancel: cancel}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}}
	every := time.Second / time.Duration(max(1, perSecond))
	for _, addr := range addrs {
		l.paths.Store(addr, path)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				p, _ := l.paths.Load(addr)
				l.wg.Add(1)
				go func() { // open loop: a slow answer does not slow the load down
					defer l.wg.Done()
					l.get(ctx, client, "http://"+addr+p.(string))
				}()
			}
		}()
	}
	return l
}

func (l *Load) get(ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	l.sent.Add(1)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.failed.Add(1)
		}
		return
	}
	resp.Body.Close()
	if id := resp.Header.Get(InstanceHeader); id != "" {
		l.lastServed.Store(id, time.Now())
	}
	if resp.StatusCode >= 500 {
		l.failed.Add(1)
	}
}

// SetPath sends the load of addr to path from now on.
func (l *Load) SetPath(addr, path string) { l.paths.Store(addr, path) }

// LastServed is when instance id last answered through the load balancer (zero if never).
func (l *Load) LastServed(id string) time.Time {
	if v, ok := l.lastServed.Load(id); ok {
		return v.(time.Time)
	}
	return time.Time{}
}

// Counts returns the requests sent and failed so far.
func (l *Load) Counts() (sent, failed int64) { return l.sent.Load(), l.failed.Load() }

// Stop ends the load and waits for requests in flight.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}
