package monkey

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/workflows"
)

type action int

const (
	killWorker action = iota
	restartTemporal
	restartCloud
)

// trigger is one planned disruption of a release. An API trigger fires after the
// (skip+1)-th call it matches in its phases; a time trigger fires delay after the
// release was first seen in one of its phases, and is dropped if the phase ends first.
type trigger struct {
	action action
	phases []workflows.Phase
	calls  []string      // API trigger: "POST /v1/attach", ...
	skip   int           // API trigger: matching calls to let through first
	delay  time.Duration // time trigger
	// quiet fires only while no activity runs, so that the kill costs no activity
	// timeout (the short form must fit in CI).
	quiet bool
	crash bool // restarts: SIGKILL rather than SIGTERM

	seen  time.Time // time trigger: when its phase was first seen
	fired bool
}

func (t *trigger) in(p workflows.Phase) bool { return slices.Contains(t.phases, p) }

// monkey carries out the triggers of the current release. Every disruption holds mu, so
// that two never overlap (no kill in the middle of a Temporal restart).
type monkey struct {
	w     *demo.World
	gen   *loadgen.Generator
	watch *watcher
	say   func(format string, args ...any)
	ctx   context.Context

	mu       sync.Mutex
	rng      *rand.Rand
	release  int
	triggers []*trigger
	kills    []Kill
	restarts []Restart
	reviving sync.WaitGroup
}

// arm sets the triggers of release n.
func (m *monkey) arm(n int, ts []*trigger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.release, m.triggers = n, ts
}

// disarm drops what did not fire, and waits for a killed worker to be back.
func (m *monkey) disarm() {
	m.mu.Lock()
	m.triggers = nil
	m.mu.Unlock()
	m.reviving.Wait()
}

func (m *monkey) killCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.kills)
}

// afterCall runs in the proxy once the daemon answered a call of the worker, before
// the worker gets the answer.
func (m *monkey) afterCall(c call) {
	if !m.mu.TryLock() { // another disruption is under way: let this call through
		return
	}
	defer m.mu.Unlock()
	wanted := slices.ContainsFunc(m.triggers, func(t *trigger) bool { return !t.fired && slices.Contains(t.calls, c.String()) })
	if !wanted || !m.w.Running(demo.ServiceWorker) {
		return
	}
	// Asked now, not taken from the last snapshot: a phase begins with its first call.
	s := m.watch.describe(m.ctx)
	if !s.OK || !s.Running {
		return
	}
	for _, t := range m.triggers {
		if t.fired || t.calls == nil || !t.in(s.Phase) || !slices.Contains(t.calls, c.String()) {
			continue
		}
		if t.skip > 0 {
			t.skip--
			continue
		}
		t.fired = true
		m.kill(s, c.String())
		return
	}
}

// onSnapshot fires the time triggers whose moment has come.
func (m *monkey) onSnapshot(s snapshot) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.OK || !s.Running {
		return
	}
	for _, t := range m.triggers {
		if t.fired || t.calls != nil {
			continue
		}
		if !t.in(s.Phase) {
			if !t.seen.IsZero() {
				t.fired = true // its phase is over: the moment passed
			}
			continue
		}
		if t.seen.IsZero() {
			t.seen = s.At
		}
		if s.At.Sub(t.seen) < t.delay {
			continue
		}
		if t.quiet {
			// Asked again right now: no activity may be in flight or about to start,
			// else its timeout, not the kill, would be measured.
			if s = m.watch.describe(m.ctx); !s.OK || !s.Running || !t.in(s.Phase) || len(s.Started)+len(s.Scheduled) > 0 {
				continue
			}
		}
		switch t.action {
		case killWorker:
			if !m.w.Running(demo.ServiceWorker) {
				continue // still down from the last kill: a moment later
			}
			t.fired = true
			m.kill(s, "")
		case restartTemporal, restartCloud:
			t.fired = true
			m.restart(s, t)
		}
		return // one disruption per snapshot
	}
}

// kill SIGKILLs the worker now and starts it again after a random while; mu held.
func (m *monkey) kill(s snapshot, after string) {
	k := Kill{Release: m.release, At: time.Now(), Phase: s.Phase, Activity: s.activity(), After: after}
	k.Moment = moment(s.Phase, k.Activity, after)
	if err := m.w.Kill(demo.ServiceWorker); err != nil {
		m.say("chaos: kill the worker: %v", err)
		return
	}
	down := 200*time.Millisecond + time.Duration(m.rng.Int64N(int64(2800*time.Millisecond)))
	k.Down = down
	what := "at a random moment"
	if after != "" {
		what = "after the local cloud answered " + after
	}
	m.say("chaos: kill %d: SIGKILL the worker %s (%s, %s), back in %s", len(m.kills)+1, what, s.Phase, orNone(k.Activity), down.Round(time.Millisecond))
	m.kills = append(m.kills, k)
	i := len(m.kills) - 1
	m.reviving.Add(1)
	time.AfterFunc(down, func() {
		defer m.reviving.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		if err := m.w.Revive(m.ctx, demo.ServiceWorker); err != nil {
			m.say("chaos: start the worker again: %v", err)
			return
		}
		m.kills[i].revived = time.Now()
	})
}

// restart restarts the Temporal server or the local cloud daemon; mu held.
func (m *monkey) restart(s snapshot, t *trigger) {
	svc := demo.ServiceTemporal
	cloudCrash := t.action == restartCloud && t.crash
	if t.action == restartCloud {
		svc = demo.ServiceLocalCloud
	}
	if cloudCrash {
		m.gen.Mark(loadWindowCloudCrash + "-start")
	}
	how := "SIGTERM"
	if t.crash {
		how = "SIGKILL"
	}
	m.say("chaos: restart %s (%s) during %s", svc, how, s.Phase)
	began := time.Now()
	err := m.w.Restart(m.ctx, svc, t.crash)
	took := time.Since(began)
	if cloudCrash {
		// Clients reconnect within a moment: give them two seconds, then back to steady.
		time.AfterFunc(2*time.Second, func() { m.gen.Mark(loadWindowCloudCrash + "-end") })
	}
	if err != nil {
		m.say("chaos: restart %s: %v", svc, err)
		return
	}
	m.say("chaos: %s back after %s", svc, took.Round(time.Millisecond))
	m.restarts = append(m.restarts, Restart{Service: svc, Release: m.release, Phase: s.Phase, Crash: t.crash, Took: took})
}

// plan draws the triggers of release n of version v.
func (m *monkey) plan(n int, bad, short bool, restarts map[int][]*trigger) []*trigger {
	r := m.rng
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
	api := func(phases []workflows.Phase, skip int, calls ...string) *trigger {
		return &trigger{action: killWorker, phases: phases, calls: calls, skip: skip}
	}
	at := func(phase workflows.Phase, delay time.Duration) *trigger {
		return &trigger{action: killWorker, phases: []workflows.Phase{phase}, delay: delay, quiet: short}
	}
	launchPhases := []workflows.Phase{workflows.PhaseCanary, workflows.PhasePromoting}
	var ts []*trigger
	switch {
	case short && !bad:
		ts = []*trigger{
			// The worker dies between "launched" and "recorded": the retry must get the
			// same instance back (a heartbeat timeout, 30 s, later).
			api([]workflows.Phase{workflows.PhaseCanary}, 0, "POST /v1/instances"),
			at(workflows.PhaseSoaking, ms(1000, 12000)),
			at(workflows.PhasePromoting, ms(0, 5000)),
		}
	case short && bad:
		// It fails its second check about 10 s into the soak.
		ts = []*trigger{at(workflows.PhaseSoaking, ms(0, 3000)), at(workflows.PhaseSoaking, ms(3500, 7000))}
	case !bad:
		ts = []*trigger{
			api(launchPhases, r.IntN(4), "POST /v1/instances"),
			api(launchPhases, r.IntN(4), "POST /v1/attach"),
			at(workflows.PhaseSoaking, ms(0, 14000)),
		}
		if r.IntN(2) == 0 {
			ts = append(ts, at(workflows.PhasePromoting, ms(0, 7000)))
		} else {
			ts = append(ts, api([]workflows.Phase{workflows.PhasePromoting}, r.IntN(3), "POST /v1/detach"))
		}
		if r.IntN(2) == 0 {
			ts = append(ts, api([]workflows.Phase{workflows.PhaseDraining}, r.IntN(4), "GET /v1/state"))
		} else {
			ts = append(ts, api([]workflows.Phase{workflows.PhaseDraining}, 0, "POST /v1/terminate"))
		}
	default:
		canary := []workflows.Phase{workflows.PhaseCanary}
		rb := []workflows.Phase{workflows.PhaseRollingBack}
		ts = []*trigger{
			[]*trigger{api(canary, 0, "POST /v1/instances"), api(canary, 0, "POST /v1/attach")}[r.IntN(2)],
			at(workflows.PhaseSoaking, ms(0, 9000)), // it fails its second check about 10 s in
			api(rb, r.IntN(2), []string{"POST /v1/attach", "POST /v1/detach", "POST /v1/terminate", "GET /v1/state"}[r.IntN(4)]),
			at(workflows.PhaseRollingBack, ms(0, 3000)),
		}
	}
	return append(ts, restarts[n]...)
}

func orNone(s string) string {
	if s == "" {
		return "no activity running"
	}
	return s
}
