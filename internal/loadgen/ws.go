package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// message is what the demo service pushes on /ws; see examples/demoapp/board.Message.
type message struct {
	Type string `json:"type"`
	Seq  int64  `json:"seq"`
}

// follower is one WebSocket user watching one board. It follows the reconnect protocol
// (on {type:"reconnect", seq} it reconnects through the load balancer with since=seq)
// and checks that it sees every seq of its board exactly once.
type follower struct {
	g     *Generator
	id    int
	board string

	mu         sync.Mutex
	last       int64 // highest seq seen; every seq up to it was seen or counted lost
	started    bool  // last is known
	sessions   int64
	reconnects int64 // sessions ended by a reconnect instruction
	drops      int64 // sessions ended without one
	dialErrors int64
	updates    int64
	duplicates int64
	lost       int64
}

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

func (f *follower) wsURL(since int64) string {
	base := f.g.cfg.BaseURL
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		base = "wss://" + rest
	} else {
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return fmt.Sprintf("%s/ws?board=%s&since=%d", base, f.board, since)
}

// run follows the board until ctx ends; ready gets one value after the first connection
// attempt.
func (f *follower) run(ctx context.Context, ready chan<- struct{}) {
	log := f.g.cfg.Logger.With("client", f.id, "board", f.board)
	signalReady := sync.OnceFunc(func() { ready <- struct{}{} })
	defer signalReady()
	backoff := minBackoff
	pause := func() bool {
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}

	// Start from the board's current head: earlier changes are not this run's.
	for {
		hctx, cancel := context.WithTimeout(ctx, f.g.cfg.Timeout)
		head, err := fetchHead(hctx, f.g.cfg.Client, f.g.cfg.BaseURL, f.board)
		cancel()
		if err == nil {
			f.mu.Lock()
			f.last, f.started = head, true
			f.mu.Unlock()
			break
		}
		log.Debug("loadgen: reading board head", "err", err)
		if !pause() {
			return
		}
	}

	since := f.last
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, f.g.cfg.Timeout)
		conn, _, err := websocket.Dial(dctx, f.wsURL(since), nil)
		cancel()
		signalReady()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.count(func() { f.dialErrors++ })
			log.Debug("loadgen: websocket dial failed", "err", err)
			if !pause() {
				return
			}
			continue
		}
		f.count(func() { f.sessions++ })
		instructed, next, err := f.session(ctx, conn)
		_ = conn.CloseNow()
		switch {
		case ctx.Err() != nil:
			return // we are stopping: not the server's doing
		case instructed:
			f.count(func() { f.reconnects++ })
			since = next
			backoff = minBackoff
		default:
			f.count(func() { f.drops++ })
			log.Info("loadgen: websocket session dropped without a reconnect instruction", "err", err)
			f.mu.Lock()
			since = f.last
			f.mu.Unlock()
			// Keep measuring: reconnect as a real client would, after a short pause.
			if !pause() {
				return
			}
		}
	}
}

// session reads one connection until it ends. It reports whether the server asked the
// client to reconnect, and from which seq.
func (f *follower) session(ctx context.Context, conn *websocket.Conn) (instructed bool, since int64, err error) {
	conn.SetReadLimit(1 << 20)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return false, 0, err
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			return false, 0, fmt.Errorf("bad message %q: %w", data, err)
		}
		switch m.Type {
		case "change":
			f.seen(m.Seq)
		case "reconnect":
			// The server closes right after; no need to wait for it.
			return true, m.Seq, nil
		}
	}
}

// seen accounts for one change: a seq beyond the next expected one means the ones in
// between never arrived.
func (f *follower) seen(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case seq <= f.last:
		f.duplicates++
	default:
		f.lost += seq - f.last - 1
		f.updates++
		f.last = seq
	}
}

func (f *follower) count(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}
