package board

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Message is what the server pushes to a WebSocket client.
//
//   - hello: sent first; Seq is where the stream starts (changes after Seq follow).
//   - change: one board change; Seq is the board seq, Item the item after the change.
//   - reconnect: the instance is going away; reconnect through the load balancer with
//     since=Seq to resume without missing a change. A normal close follows.
type Message struct {
	Type    string `json:"type"`
	Board   string `json:"board,omitempty"`
	Seq     int64  `json:"seq"`
	Op      string `json:"op,omitempty"`
	Item    *Item  `json:"item,omitempty"`
	Version string `json:"version,omitempty"`
}

const (
	liveBuffer   = 256
	writeTimeout = 5 * time.Second
	replayBatch  = 500
)

// client is one WebSocket connection following one board.
type client struct {
	board string
	conn  *websocket.Conn

	// live receives changes from the hub. When it overflows the hub sets lagged and
	// pokes wake; the client then reads what it missed from the store, so a slow
	// client falls behind but never skips a change.
	live   chan Change
	wake   chan struct{}
	lagged atomic.Bool

	migrateOnce sync.Once
	migrate     chan struct{} // closed to ask the client to reconnect elsewhere
	done        chan struct{} // closed when the client's loop has ended

	lastSent int64 // only touched by the client's own goroutine
}

func newClient(board string, conn *websocket.Conn, since int64) *client {
	return &client{
		board:    board,
		conn:     conn,
		live:     make(chan Change, liveBuffer),
		wake:     make(chan struct{}, 1),
		migrate:  make(chan struct{}),
		done:     make(chan struct{}),
		lastSent: since,
	}
}

// offer hands a change to the client without ever blocking the hub.
func (c *client) offer(ch Change) {
	select {
	case c.live <- ch:
	default:
		c.lagged.Store(true)
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// askMigrate asks the client to send reconnect and close; safe to call many times.
func (c *client) askMigrate() {
	c.migrateOnce.Do(func() { close(c.migrate) })
}

func (c *client) send(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *client) sendChange(ctx context.Context, ch Change) error {
	it := ch.Item
	if err := c.send(ctx, Message{Type: "change", Board: ch.Board, Seq: ch.Seq, Op: ch.Op, Item: &it}); err != nil {
		return err
	}
	c.lastSent = ch.Seq
	return nil
}

// catchUp sends every stored change after lastSent.
func (c *client) catchUp(ctx context.Context, store *Store) error {
	for {
		changes, err := store.ChangesSince(ctx, c.board, c.lastSent, replayBatch)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			if err := c.sendChange(ctx, ch); err != nil {
				return err
			}
		}
		if len(changes) < replayBatch {
			return nil
		}
	}
}

// loop streams changes until the peer leaves, the server stops (ctx) or a migration is
// asked. It returns true when it ended by telling the client to reconnect.
func (c *client) loop(ctx context.Context, store *Store, version string) (migrated bool, err error) {
	if err := c.send(ctx, Message{Type: "hello", Board: c.board, Seq: c.lastSent, Version: version}); err != nil {
		return false, err
	}
	// The client is already subscribed, so anything committed during the replay also
	// arrives on live and is skipped there by seq.
	if err := c.catchUp(ctx, store); err != nil {
		return false, err
	}
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-c.migrate:
			if err := c.send(ctx, Message{Type: "reconnect", Board: c.board, Seq: c.lastSent}); err != nil {
				return false, err
			}
			return true, c.conn.Close(websocket.StatusNormalClosure, "reconnect")
		case ch := <-c.live:
			switch {
			case ch.Seq <= c.lastSent:
				// already sent by a replay
			case ch.Seq == c.lastSent+1 && !c.lagged.Load():
				err = c.sendChange(ctx, ch)
			default:
				c.lagged.Store(false)
				err = c.catchUp(ctx, store)
			}
		case <-c.wake:
			c.lagged.Store(false)
			err = c.catchUp(ctx, store)
		}
		if err != nil {
			return false, err
		}
	}
}
