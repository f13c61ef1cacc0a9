package sqlitestore

import (
	"context"
	"fmt"
	"testing"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SetBeforeCommit installs a hook that runs inside every append transaction
// just before COMMIT, with the write lock held.
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit.Store(&f) }

// LimitPages makes the database file unable to grow past its size now plus
// extra pages, as a full disk would.
func (s *Store) LimitPages(extra int) error {
	var pages int
	if err := s.writes.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		return err
	}
	_, err := s.writes.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+extra))
	return err
}

// QueryRow runs q on a reading connection and scans its one value into dest.
func (s *Store) QueryRow(ctx context.Context, q string, dest any) error {
	return s.reads.QueryRowContext(ctx, q).Scan(dest)
}

// LimitLength sets SQLite's largest string, blob or row (SQLITE_LIMIT_LENGTH)
// on the writer's one connection to n bytes, as a smaller build would.
func (s *Store) LimitLength(ctx context.Context, n int) error {
	c, err := s.writes.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = sqlite.Limit(c, sqlite3.SQLITE_LIMIT_LENGTH, n)
	return err
}

// MaxEventBytesWithin is the largest data plus metadata of one event that a
// row of at most limit bytes holds whatever the event's other columns.
var MaxEventBytesWithin = maxEventBytesWithin

// OnLockFileChange makes f run, until the test ends, with the lock file's
// path after each change the store makes to its content at start-up and at
// a clean stop. Every store of the package calls it: a test that sets it
// must not run in parallel with others.
func OnLockFileChange(t *testing.T, f func(path string)) {
	onLockFileChange.Store(&f)
	t.Cleanup(func() { onLockFileChange.Store(nil) })
}

// Exec runs q on the writer's one connection, as an operator's statement
// beside the store would.
func (s *Store) Exec(ctx context.Context, q string) error {
	_, err := s.writes.ExecContext(ctx, q)
	return err
}

// Glance is the look a start after a clean stop takes at the database file.
func (s *Store) Glance(ctx context.Context) error { return s.glance(ctx) }

// WALRestarts is how many restarts of the WAL the store has tried.
func (s *Store) WALRestarts() int64 { return s.restarts.Load() }

// HoldWALRestart makes the store's look for a copy over the file run as it
// does while one of its restarts of the WAL writes the file, until release.
func (s *Store) HoldWALRestart() (release func()) {
	s.restarting.Lock()
	return s.restarting.Unlock
}

// SetWhileLooking installs a hook that runs in each look for a copy over the
// file after it read the WAL index's checkpoint record, before it reads the
// file.
func (s *Store) SetWhileLooking(f func()) { s.whileLooking.Store(&f) }

// BetweenLockTries makes f run, until the test ends, after a start's
// exclusive lock on the lock file or the database file was refused and
// before it looks at who holds it. Every store of the package calls it: a
// test that sets it must not run in parallel with others.
func BetweenLockTries(t *testing.T, f func()) {
	betweenLockTries.Store(&f)
	t.Cleanup(func() { betweenLockTries.Store(nil) })
}

// CommitUncertainCode is commitUncertainCode.
var CommitUncertainCode = commitUncertainCode
