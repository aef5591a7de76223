package board

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"
)

// ErrNotFound is returned for an item that does not exist on its board.
var ErrNotFound = errors.New("item not found")

// Item is one note on a board.
type Item struct {
	ID    int64  `json:"id"`
	Board string `json:"board"`
	Text  string `json:"text"`
	// Seq is the board sequence number of the item's latest change.
	Seq int64 `json:"seq"`
	// Version is the demoapp version that last wrote the item, so a demo can show which
	// release served a write.
	Version string `json:"version"`
	// Owner is who created the item, written only by a version that knows items.owner.
	Owner     string    `json:"owner,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Change is one entry of a board's change log; every create and update gets the next seq.
type Change struct {
	Board string `json:"board"`
	Seq   int64  `json:"seq"`
	Op    string `json:"op"` // "create" or "update"
	Item  Item   `json:"item"`
	// gid orders changes of all boards; instances poll it to learn about writes made
	// through other instances.
	gid int64
}

// Store keeps boards in one SQLite file that several demoapp processes share. WAL lets
// readers run beside the single writer and busy_timeout makes writers queue instead of
// failing with SQLITE_BUSY; every write transaction starts IMMEDIATE so two processes
// never deadlock upgrading a read lock.
type Store struct {
	db *sql.DB
	// writeMu queues this process's writers in Go rather than in SQLite's busy loop,
	// which sleeps in coarse steps; other processes still queue through busy_timeout.
	writeMu sync.Mutex
	// owners makes Create write items.owner (WriteOwners): the version after the expand.
	owners bool
}

const schema = `
CREATE TABLE IF NOT EXISTS boards (
	board TEXT PRIMARY KEY,
	seq   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	board      TEXT    NOT NULL,
	text       TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	version    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_board_seq ON items (board, seq);
CREATE TABLE IF NOT EXISTS changes (
	gid   INTEGER PRIMARY KEY AUTOINCREMENT,
	board TEXT    NOT NULL,
	seq   INTEGER NOT NULL,
	op    TEXT    NOT NULL,
	item  TEXT    NOT NULL,
	UNIQUE (board, seq)
);
`

// OpenStore opens (creating if needed) the SQLite store at path.
//
// Instances that start together on a fresh file race to switch it to WAL, and SQLite
// answers the loser SQLITE_BUSY without waiting in busy_timeout (about 1 start in 17
// with two processes here), so a busy open is retried for a while instead of failing
// the instance's start.
func OpenStore(path string) (*Store, error) {
	deadline := time.Now().Add(openBusyFor)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		s, err := openStore(path)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return s, err
		}
		time.Sleep(wait)
	}
}

// openBusyFor bounds how long OpenStore retries a busy database: as long as writers
// wait in busy_timeout.
const openBusyFor = 10 * time.Second

// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5
}

func openStore(path string) (*Store, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is durable across process crashes in WAL mode, which is what a release
	// kills; only a power loss could drop the last transactions.
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &Store{db: db}
	// Several instances may start at once on a fresh file: creating the schema inside
	// an IMMEDIATE transaction makes them take turns.
	if err := s.write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(schema)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// nextSeq allocates the board's next sequence number inside tx. SQLite has a single
// writer, so seqs are handed out and committed in order: no reader ever sees seq N+1
// before seq N.
func nextSeq(tx *sql.Tx, board string) (int64, error) {
	var seq int64
	err := tx.QueryRow(`INSERT INTO boards (board, seq) VALUES (?, 1)
		ON CONFLICT (board) DO UPDATE SET seq = seq + 1 RETURNING seq`, board).Scan(&seq)
	return seq, err
}

func logChange(tx *sql.Tx, op string, it Item) error {
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO changes (board, seq, op, item) VALUES (?, ?, ?, ?)`, it.Board, it.Seq, op, string(b))
	return err
}

// Create adds an item to board and returns it with its id and seq.
func (s *Store) Create(ctx context.Context, board, text, version string) (Item, error) {
	return s.CreateBy(ctx, board, text, version, "")
}

// CreateBy is Create for a known user: a store that writes owners (WriteOwners) records
// owner, "anonymous" when empty; another ignores it, as the old version does.
func (s *Store) CreateBy(ctx context.Context, board, text, version, owner string) (Item, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	it := Item{Board: board, Text: text, Version: version, CreatedAt: now, UpdatedAt: now}
	insert := `INSERT INTO items (board, text, seq, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
	if s.owners {
		it.Owner = cmp.Or(owner, "anonymous")
		insert = `INSERT INTO items (board, text, seq, version, created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)`
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		seq, err := nextSeq(tx, board)
		if err != nil {
			return err
		}
		it.Seq = seq
		args := []any{board, text, seq, version, now.UnixMilli(), now.UnixMilli()}
		if s.owners {
			args = append(args, it.Owner)
		}
		res, err := tx.Exec(insert, args...)
		if err != nil {
			return err
		}
		if it.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return logChange(tx, "create", it)
	})
	return it, err
}

// Update replaces the text of item id on board.
func (s *Store) Update(ctx context.Context, board string, id int64, text, version string) (Item, error) {
	var it Item
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		// Look the item up before taking a seq, so a missing item leaves no hole.
		if it, err = scanItem(tx.QueryRow(`SELECT id, board, text, seq, version, created_at, updated_at
			FROM items WHERE board = ? AND id = ?`, board, id)); err != nil {
			return err
		}
		if it.Seq, err = nextSeq(tx, board); err != nil {
			return err
		}
		it.Text, it.Version, it.UpdatedAt = text, version, time.Now().UTC().Truncate(time.Millisecond)
		if _, err := tx.Exec(`UPDATE items SET text = ?, seq = ?, version = ?, updated_at = ? WHERE id = ?`,
			text, it.Seq, version, it.UpdatedAt.UnixMilli(), id); err != nil {
			return err
		}
		return logChange(tx, "update", it)
	})
	return it, err
}

type rowScanner interface{ Scan(dest ...any) error }

func scanItem(r rowScanner) (Item, error) {
	var it Item
	var created, updated int64
	err := r.Scan(&it.ID, &it.Board, &it.Text, &it.Seq, &it.Version, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return it, ErrNotFound
	}
	it.CreatedAt, it.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return it, err
}

// List returns the board's head seq and its latest limit items, newest first. Reading
// both in one transaction keeps them consistent.
func (s *Store) List(ctx context.Context, board string, limit int) (head int64, items []Item, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM boards WHERE board = ?`, board).Scan(&head); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, board, text, seq, version, created_at, updated_at
		FROM items WHERE board = ? ORDER BY seq DESC LIMIT ?`, board, limit)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	items = []Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return 0, nil, err
		}
		items = append(items, it)
	}
	return head, items, rows.Err()
}

// Head returns the board's latest seq (0 for a board never written).
func (s *Store) Head(ctx context.Context, board string) (int64, error) {
	var head int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM boards WHERE board = ?`, board).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return head, err
}

// ChangesSince returns up to limit changes of board with seq > since, in seq order.
func (s *Store) ChangesSince(ctx context.Context, board string, since int64, limit int) ([]Change, error) {
	return s.changes(ctx, `SELECT gid, board, seq, op, item FROM changes WHERE board = ? AND seq > ? ORDER BY seq LIMIT ?`, board, since, limit)
}

// changesAfterGID returns changes of every board committed after gid, in commit order.
func (s *Store) changesAfterGID(ctx context.Context, gid int64, limit int) ([]Change, error) {
	return s.changes(ctx, `SELECT gid, board, seq, op, item FROM changes WHERE gid > ? ORDER BY gid LIMIT ?`, gid, limit)
}

func (s *Store) maxGID(ctx context.Context) (int64, error) {
	var gid int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(gid), 0) FROM changes`).Scan(&gid)
	return gid, err
}

func (s *Store) changes(ctx context.Context, query string, args ...any) ([]Change, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var item string
		if err := rows.Scan(&c.gid, &c.Board, &c.Seq, &c.Op, &item); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(item), &c.Item); err != nil {
			return nil, fmt.Errorf("change %s/%d: %w", c.Board, c.Seq, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
