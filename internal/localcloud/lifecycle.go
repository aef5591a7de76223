package localcloud

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// lookup returns the named instances, or a 404 naming the unknown ones; callers hold d.mu.
func (d *Daemon) lookup(ids []string) ([]*instance, error) {
	if len(ids) == 0 {
		return nil, badRequest("ids is empty")
	}
	var out []*instance
	var unknown []string
	for _, id := range ids {
		if in, ok := d.insts[id]; ok {
			out = append(out, in)
		} else {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, &apiError{http.StatusNotFound, "unknown instance(s): " + strings.Join(unknown, ", ")}
	}
	return out, nil
}

// attach puts instances in the load balancer. They take traffic once healthy; a
// draining instance is simply taken back.
func (d *Daemon) attach(ids []string) error {
	d.mu.Lock()
	ins, err := d.lookup(ids)
	if err == nil {
		for _, in := range ins {
			if in.rec.Status != api.StatusRunning && in.rec.Status != api.StatusPending {
				err = &apiError{http.StatusConflict, fmt.Sprintf("instance %s is %s and cannot take traffic", in.rec.ID, in.rec.Status)}
				break
			}
		}
	}
	if err != nil {
		d.mu.Unlock()
		return err
	}
	for _, in := range ins {
		in.rec.Attached = true
		in.draining = false
		if in.drainTimer != nil {
			in.drainTimer.Stop()
			in.drainTimer = nil
		}
	}
	d.mu.Unlock()
	d.log.Info("attached", "ids", ids)
	d.persist()
	return nil
}

// detach takes instances out of the load balancer: no new requests or connections
// from now on; open ones finish, or are closed once timeout has passed.
func (d *Daemon) detach(ids []string, timeout time.Duration) error {
	d.mu.Lock()
	ins, err := d.lookup(ids)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	for _, in := range ins {
		if !in.rec.Attached {
			continue // already detached (or draining): keep its deadline
		}
		in.rec.Attached = false
		if len(in.leases) == 0 {
			continue
		}
		in.draining = true
		in.drainTimer = time.AfterFunc(timeout, func() { d.drainDeadline(in) })
	}
	d.mu.Unlock()
	d.log.Info("detached", "ids", ids, "drainTimeout", timeout)
	d.persist()
	return nil
}

// drainDeadline closes what a draining instance still holds.
func (d *Daemon) drainDeadline(in *instance) {
	d.mu.Lock()
	var open []*lease
	if in.draining && !d.closed {
		open = d.leasesOf(in)
	}
	d.mu.Unlock()
	if len(open) > 0 {
		d.log.Info("drain deadline passed: closing connections", "id", in.rec.ID, "connections", len(open))
		abortAll(open)
	}
}

// setWeights sets the per-version traffic share; an empty map goes back to an equal
// share per instance.
func (d *Daemon) setWeights(w map[string]int) error {
	for v, n := range w {
		if v == "" || n < 0 {
			return badRequest("weights: version %q has weight %d; versions must be named and weights >= 0", v, n)
		}
	}
	d.mu.Lock()
	if len(w) == 0 {
		w = nil
	}
	d.weights = w
	d.rotation.reset()
	d.mu.Unlock()
	d.log.Info("weights set", "weights", w)
	d.persist()
	return nil
}

// terminate stops instances: SIGTERM to the process group, SIGKILL after the grace
// period. It returns when all are gone; terminating twice is harmless.
func (d *Daemon) terminate(ins []*instance) {
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() { d.stop(in) })
	}
	wg.Wait()
}

func (d *Daemon) stop(in *instance) {
	d.mu.Lock()
	if in.stopped != nil { // someone else is at it
		ch := in.stopped
		d.mu.Unlock()
		<-ch
		return
	}
	in.stopped = make(chan struct{})
	defer close(in.stopped)
	if in.rec.Status == api.StatusTerminated {
		d.mu.Unlock()
		return
	}
	pid, ticks := in.rec.PID, in.rec.StartTicks
	running := in.rec.live() && pid > 0
	if running {
		in.rec.Status = api.StatusStopping // out of the load balancer from now on
	}
	in.rec.Attached = false
	in.rec.Healthy = false
	d.mu.Unlock()
	d.persist()

	if running && alive(pid, ticks) {
		d.log.Info("stopping instance", "id", in.rec.ID, "pid", pid)
		_ = signalGroup(pid, syscall.SIGTERM)
		if !d.waitGone(in, pid, ticks, d.cfg.StopGrace) {
			d.log.Warn("instance ignored SIGTERM: killing", "id", in.rec.ID, "pid", pid, "grace", d.cfg.StopGrace)
			_ = signalGroup(pid, syscall.SIGKILL)
			if !d.waitGone(in, pid, ticks, 5*time.Second) {
				d.log.Error("instance survived SIGKILL", "id", in.rec.ID, "pid", pid)
			}
		}
	}
	killGroupLeftovers(pid)

	d.mu.Lock()
	in.rec.Status = api.StatusTerminated
	if in.rec.EndedAt.IsZero() {
		in.rec.EndedAt = time.Now()
	}
	in.draining = false
	if in.drainTimer != nil {
		in.drainTimer.Stop()
	}
	open := d.leasesOf(in)
	d.mu.Unlock()
	in.stopHealth()
	abortAll(open)
	d.persist()
	d.log.Info("instance terminated", "id", in.rec.ID)
}

// waitGone waits for a process to end: our child's exit, or a poll for an adopted one.
func (d *Daemon) waitGone(in *instance, pid int, ticks uint64, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-in.exited:
			return true
		case <-deadline.C:
			return !alive(pid, ticks)
		case <-poll.C:
			if !alive(pid, ticks) {
				return true
			}
		}
	}
}

// state is the API's picture of the fleet; terminated instances only with all.
func (d *Daemon) state(all bool) api.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := api.State{Instances: []api.Instance{}, LoadBalancer: d.LBAddr()}
	if len(d.weights) > 0 {
		st.Weights = map[string]int{}
		for v, w := range d.weights {
			st.Weights[v] = w
		}
	}
	if len(d.routed) > 0 {
		st.Routed = maps.Clone(d.routed)
	}
	for _, in := range d.ordered() {
		if all || in.rec.Status != api.StatusTerminated {
			st.Instances = append(st.Instances, in.view(d.weights))
		}
	}
	return st
}
