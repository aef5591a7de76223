package localcloud

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// startHealth checks an instance every HealthInterval until it ends. Like an ALB it
// needs HealthyThreshold successes in a row to take traffic and UnhealthyThreshold
// failures in a row to lose it.
func (d *Daemon) startHealth(in *instance) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(d.ctx)
	in.stopHealth = cancel
	addr, path := in.rec.address(), in.rec.HealthPath
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(d.cfg.HealthInterval)
		defer t.Stop()
		for {
			ok := d.probe(ctx, addr, path)
			if ctx.Err() != nil {
				return
			}
			d.recordProbe(in, ok)
			select {
			case <-ctx.Done():
				return
			case <-in.exited:
				return
			case <-t.C:
			}
		}
	}()
}

// probe is one health check: any 2xx or 3xx answer within HealthTimeout passes.
func (d *Daemon) probe(ctx context.Context, addr, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "zerodown-localcloud-health")
	resp, err := d.healthHTTP.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

func (d *Daemon) recordProbe(in *instance, ok bool) {
	d.mu.Lock()
	if d.closed || in.rec.Status != api.StatusRunning {
		d.mu.Unlock()
		return
	}
	changed := false
	if ok {
		in.okStreak, in.failStreak = in.okStreak+1, 0
		if !in.rec.Healthy && in.okStreak >= d.cfg.HealthyThreshold {
			in.rec.Healthy, changed = true, true
		}
	} else {
		in.okStreak, in.failStreak = 0, in.failStreak+1
		if in.rec.Healthy && in.failStreak >= d.cfg.UnhealthyThreshold {
			in.rec.Healthy, changed = false, true
		}
	}
	healthy := in.rec.Healthy
	d.mu.Unlock()
	if changed {
		d.log.Info("health changed", "id", in.rec.ID, "version", in.rec.Version, "healthy", healthy)
		d.persist()
	}
}
