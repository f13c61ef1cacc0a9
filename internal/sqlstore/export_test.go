package sqlstore

import (
	"database/sql"
	"time"
)

// BeforeVisibleCheck makes f run in each log read of s between reading its
// page's positions and looking for positions not yet visible below them.
func BeforeVisibleCheck(s *Store, f func()) { s.reader.hooks.beforeVisible.Store(&f) }

// ReadsLag makes s's reads up to a position check the head first, as on a
// Galera cluster (Dialect.ReadsLag).
func ReadsLag(s *Store) { s.reader.readsLag = true }

// WaitReadsAhead waits until the reads of a next page that s has in flight
// have ended, their pages kept or dropped. No read may start meanwhile.
func WaitReadsAhead(s *Store) {
	if s.reader.ahead != nil {
		s.reader.ahead.wg.Wait()
	}
}

// SetStallBound makes a ping of s's stall watch that goes unanswered for d
// (not 2 s) begin a stall, the ping under way's too.
func SetStallBound(s *Store, d time.Duration) { s.stall.setBound(d) }

// Stalled reports whether s's stall watch holds its database stalled now.
func Stalled(s *Store) bool { return s.stall.err() != nil }

// IsStall reports whether err is a refusal of the stall watch's: the
// request was answered at once, nothing of it sent.
func IsStall(err error) bool { return isStall(err) }

// ReadsPool is the pool s's reads run on.
func ReadsPool(s *Store) *sql.DB { return s.reader.db }

// WritesPool is the pool s's writer runs on.
func WritesPool(s *Store) *sql.DB { return s.writer.db }

// SetSettleTimeout makes s's writer give settling a lost COMMIT d (not
// settleTimeout); set it before the store's first append.
func SetSettleTimeout(s *Store, d time.Duration) { s.writer.settleFor = d }

// GuardWithLockingRead makes s's writer guard a group sent in one round
// trip with the locking read of log_head (Dialect.GuardedLockHead, MySQL's)
// rather than its UPDATE (GuardedHead, MariaDB's); set it before the
// store's first append.
func GuardWithLockingRead(s *Store) { s.writer.d.GuardedHead = "" }

// SetSnapshotDrops makes s's writer move log_head's commit id, on damage
// met, no sooner than every after its last move (not a second), each move
// bounded by bound (not 5 s); 0 leaves either as it is. Set it before the
// store's first read.
func SetSnapshotDrops(s *Store, every, bound time.Duration) {
	s.writer.drops.every, s.writer.drops.bound = every, bound
}

// WaitSnapshotDrops waits until s's writer has no move of the commit id
// under way or due (dropSnapshots), its outcome known.
func WaitSnapshotDrops(s *Store) {
	d := &s.writer.drops
	d.mu.Lock()
	idle := d.idle
	d.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

// SetBelowLogEvery sets the least time between two lines of streams read
// below the version the writer's commit left (sawVersion).
func SetBelowLogEvery(s *Store, every time.Duration) {
	s.writer.warned.mu.Lock()
	s.writer.warned.every = every
	s.writer.warned.mu.Unlock()
}

// StallWatchEntries is how many statements s's read stall watch holds:
// those watched, and those a stall cut whose read has not yet taken its
// refusal.
func StallWatchEntries(s *Store) int {
	w := s.reader.stall
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watched) + len(w.cut)
}
