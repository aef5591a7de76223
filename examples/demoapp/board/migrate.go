package board

// The board's database change in expand/contract form, as a DBA would script it, so that
// two versions of the board can share one store while a release mixes them:
//
//   - expand adds items.owner (nullable): the old version never names it and keeps
//     working; the new version (Config.ItemOwner) writes it.
//   - undo-expand drops it again (and the contract's rule, if any), for a rollback.
//   - contract makes the owner required: it fills the owner of old items and refuses an
//     item without one. The old version inserts items without an owner, so it cannot live
//     with a contracted store: contract only once no old instance is alive.
//   - backup copies the store, consistent while instances write (VACUUM INTO).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// The migration actions `demoapp migrate` takes.
const (
	MigrateExpand     = "expand"
	MigrateUndoExpand = "undo-expand"
	MigrateContract   = "contract"
	MigrateBackup     = "backup"
)

// OwnerColumn is the column the expand migration adds.
const OwnerColumn = "owner"

// ownerRequired is the contract's rule: an item without an owner is refused.
const ownerRequired = `CREATE TRIGGER IF NOT EXISTS items_owner_required BEFORE INSERT ON items
	WHEN NEW.owner IS NULL BEGIN SELECT RAISE(ABORT, 'items.owner is required'); END`

// ErrNoOwnerColumn means the store has not been expanded for a version that writes owners.
var ErrNoOwnerColumn = errors.New("the store has no items.owner column: run the expand migration first (demoapp migrate expand)")

// Migrate runs one migration action on the store at path; each is safe to run again.
// Backup takes the destination file as its argument.
func Migrate(ctx context.Context, path, action string, args ...string) error {
	s, err := OpenStore(path)
	if err != nil {
		return err
	}
	defer s.Close()
	switch action {
	case MigrateBackup:
		if len(args) != 1 || args[0] == "" {
			return errors.New("backup needs one argument: the file to write")
		}
		if _, err := os.Stat(args[0]); err == nil {
			return fmt.Errorf("backup: %s exists already; a backup never overwrites", args[0])
		}
		_, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, args[0])
		return err
	case MigrateExpand, MigrateUndoExpand, MigrateContract:
		if len(args) > 0 {
			return fmt.Errorf("%s takes no argument", action)
		}
	default:
		return fmt.Errorf("unknown migration %q: expand, undo-expand, contract or backup", action)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		has, err := hasColumn(tx, "items", OwnerColumn)
		if err != nil {
			return err
		}
		switch {
		case action == MigrateExpand && !has:
			_, err = tx.Exec(`ALTER TABLE items ADD COLUMN owner TEXT`)
		case action == MigrateUndoExpand && has:
			if _, err = tx.Exec(`DROP TRIGGER IF EXISTS items_owner_required`); err == nil {
				_, err = tx.Exec(`ALTER TABLE items DROP COLUMN owner`)
			}
		case action == MigrateContract && !has:
			err = ErrNoOwnerColumn
		case action == MigrateContract:
			if _, err = tx.Exec(`UPDATE items SET owner = 'unknown' WHERE owner IS NULL`); err == nil {
				_, err = tx.Exec(ownerRequired)
			}
		}
		return err
	})
}

// hasColumn reports whether table has the column, in q's view of the schema.
func hasColumn(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, table, column string) (bool, error) {
	rows, err := q.Query(`SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return false, err
		}
		if name == column {
			return true, nil
		}
	}
	return false, rows.Err()
}

// WriteOwners makes the store write items.owner, as the version after the expand does; it
// refuses a store that was not expanded, so such a version cannot start on it.
func (s *Store) WriteOwners() error {
	has, err := hasColumn(s.db, "items", OwnerColumn)
	if err != nil {
		return err
	}
	if !has {
		return ErrNoOwnerColumn
	}
	s.owners = true
	return nil
}
