package board

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// hub fans board changes out to this instance's WebSocket clients. Instances share
// nothing but the store, so the hub polls the store's change log: a write made through
// any instance reaches every client of every instance within one poll interval.
type hub struct {
	store    *Store
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	subs    map[string]map[*client]struct{} // board -> clients
	cursor  int64                           // highest gid delivered
	kick    chan struct{}
	stopped chan struct{}
}

func newHub(store *Store, interval time.Duration, log *slog.Logger) *hub {
	return &hub{
		store:    store,
		interval: interval,
		log:      log,
		subs:     map[string]map[*client]struct{}{},
		kick:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
}

// run polls until ctx ends.
func (h *hub) run(ctx context.Context) {
	defer close(h.stopped)
	// Start from the current end of the log: clients replay older changes themselves
	// from the seq they ask for.
	for {
		gid, err := h.store.maxGID(ctx)
		if err == nil {
			h.cursor = gid
			break
		}
		h.log.Warn("hub: reading change log", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.interval):
		}
	}
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		h.poll(ctx)
	}
}

// notify asks for an immediate poll after a local write, so clients of this instance
// see it without waiting for the next tick.
func (h *hub) notify() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *hub) poll(ctx context.Context) {
	for {
		changes, err := h.store.changesAfterGID(ctx, h.cursor, 500)
		if err != nil {
			if ctx.Err() == nil {
				h.log.Warn("hub: polling change log", "err", err)
			}
			return
		}
		for _, c := range changes {
			h.cursor = c.gid
			h.publish(c)
		}
		if len(changes) < 500 {
			return
		}
	}
}

func (h *hub) publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cl := range h.subs[c.Board] {
		cl.offer(c)
	}
}

func (h *hub) subscribe(cl *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.subs[cl.board]
	if m == nil {
		m = map[*client]struct{}{}
		h.subs[cl.board] = m
	}
	m[cl] = struct{}{}
}

func (h *hub) unsubscribe(cl *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[cl.board], cl)
	if len(h.subs[cl.board]) == 0 {
		delete(h.subs, cl.board)
	}
}

// clients returns a snapshot of every connected client.
func (h *hub) clients() []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*client
	for _, m := range h.subs {
		for cl := range m {
			out = append(out, cl)
		}
	}
	return out
}
