package mysqlstore

import (
	"context"
	"database/sql"
	"time"
)

// SetBeforeCommit installs a hook that runs inside every append transaction
// just before COMMIT, with the log_head lock held. While it is set, no group
// goes in one round trip (sqlstore.Options.BeforeCommit).
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit.Store(&f) }

// SetBeforeHeadLook installs a hook that runs, with the look's context, as
// an append that found a position taken looks whether the log's head is
// behind its events, before the look's query.
func (s *Store) SetBeforeHeadLook(f func(ctx context.Context)) { s.beforeHeadLook.Store(&f) }

// Fences reports whether answers wait for a fence commit (see waitDurable):
// true when the server's binary log is off.
func (s *Store) Fences() bool { return s.fence.Load() }

// FenceCommits is how many fence commits the database has recorded, by any
// process.
func (s *Store) FenceCommits(ctx context.Context) (int64, error) {
	var n int64
	err := s.primary.QueryRowContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1").Scan(&n)
	return n, err
}

// WritesPool is the writer's own pool.
func (s *Store) WritesPool() *sql.DB { return s.writes }

// GuardedSet, GuardedLockHead, GuardedHead and CommitTime are statements of
// a group sent in one round trip, for BenchmarkTransactionShape and
// BenchmarkGroupShape to send as they are.
var GuardedSet, GuardedLockHead, GuardedHead, CommitTime = dialect.GuardedSet, dialect.GuardedLockHead, dialect.GuardedHead, dialect.CommitTime

// CommittingUpTo and DurableUpTo stand in for the writer: a COMMIT on its
// way that will leave the head at a position, and its return.
func (s *Store) CommittingUpTo(position int64) { s.committingUpTo(position) }
func (s *Store) DurableUpTo(position int64)    { s.durableUpTo(position) }

// SetOwnCommitPatience sets how long WaitDurable waits for a COMMIT of the
// writer's on its way before it fences (ownCommitPatience); set it before
// the store is used.
func (s *Store) SetOwnCommitPatience(d time.Duration) { s.patience = d }

// PrimaryRowLockWaits is the innodb_lock_wait_timeout of each session of
// the pool the fence writes on, as many as it holds at most.
func (s *Store) PrimaryRowLockWaits(ctx context.Context) ([]int, error) {
	var waits []int
	for range 3 { // the pool's size (Open)
		conn, err := s.primary.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.innodb_lock_wait_timeout").Scan(&n); err != nil {
			return nil, err
		}
		waits = append(waits, n)
	}
	return waits, nil
}

// MariaDB reports whether the store found a MariaDB server at Open.
func (s *Store) MariaDB() bool { return s.onMariaDB }

// OnePrimarySession makes the pool the fence writes on hold one session at
// most, and returns what reads that session's id and how many statements it
// has run (its Questions, MariaDB's information_schema.SESSION_STATUS), the
// reading's own included.
func (s *Store) OnePrimarySession() func(ctx context.Context) (id, questions int64, err error) {
	s.primary.SetMaxOpenConns(1)
	return func(ctx context.Context) (id, questions int64, err error) {
		err = s.primary.QueryRowContext(ctx, "SELECT CONNECTION_ID(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "+
			"WHERE VARIABLE_NAME = 'QUESTIONS'").Scan(&id, &questions)
		return id, questions, err
	}
}

// FenceAsOnMySQL makes the fence bound its lock waits as on MySQL, which has
// no SET STATEMENT: on a session of its own, whose waits it puts back after.
// Call it before the store is used.
func (s *Store) FenceAsOnMySQL() { s.onMariaDB = false }

// WriterIdle is how long a writer session may sit idle inside a transaction
// before its server ends it (writerIdleBound).
const WriterIdle = writerIdleBound

// WithWriterIdle is opts with the writer sessions' idle bound inside a
// transaction set to d (0: WriterIdle), for a test that waits it out.
func WithWriterIdle(opts Options, d time.Duration) Options {
	opts.writerIdle = d
	return opts
}

// WithIdleAsOnMySQL is opts with the writer sessions' idle bound set as on
// a server without idle_transaction_timeout (MySQL): with wait_timeout.
func WithIdleAsOnMySQL(opts Options) Options {
	opts.idleAsOnMySQL = true
	return opts
}

// WaitLockHolderSearch waits for the search for the log's lock's holder
// that an append which ran out of time started in the background, if one
// runs (sayLockHolder): what it says is in the log once this returns.
func (s *Store) WaitLockHolderSearch() { s.seekers.Wait() }

// FeedPool is the live feed's pool (the primary's, with no read replica).
func (s *Store) FeedPool() *sql.DB { return s.feed }

// PrimaryRoundTrips makes the primary's pool hold one session at most, and
// returns what reads how many commands that session has been sent: its
// statements (Questions) and its pings (COM_PING, which MariaDB counts in
// Com_admin_commands, not in Questions), the reading's own statement
// included.
func (s *Store) PrimaryRoundTrips() func(ctx context.Context) (int64, error) {
	s.primary.SetMaxOpenConns(1)
	return func(ctx context.Context) (n int64, err error) {
		err = s.primary.QueryRowContext(ctx, "SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS "+
			"WHERE VARIABLE_NAME IN ('QUESTIONS', 'COM_ADMIN_COMMANDS')").Scan(&n)
		return n, err
	}
}

// NewReadsSession has the clients' reads pool make a new session, as it
// does when it grows under load: its idle ones are closed first.
func (s *Store) NewReadsSession(ctx context.Context) error {
	s.reads.SetMaxIdleConns(0)
	s.reads.SetMaxIdleConns(1)
	c, err := s.reads.Conn(ctx)
	if err != nil {
		return err
	}
	return c.Close()
}

// NewWriterSessions closes the writer's idle sessions, as their idle bound
// does: its next ones are new.
func (s *Store) NewWriterSessions() {
	s.writes.SetMaxIdleConns(0)
	s.writes.SetMaxIdleConns(2)
}

// SetPrivilegeClock makes now the clock by which a privilege refusal ends
// the sessions at most once each regrantInterval.
func (s *Store) SetPrivilegeClock(now func() time.Time) {
	for _, p := range []*privilegeEpoch{&s.privileges, &s.replicaPrivileges} {
		p.mu.Lock()
		p.now = now
		p.mu.Unlock()
	}
}

// RegrantInterval is regrantInterval.
const RegrantInterval = regrantInterval

// HoldPrimary takes every session of the pool the live feed, the
// durability checks and /readyz use (Open: 3), as a stalled fence or a
// burst of probes would, until release.
func (s *Store) HoldPrimary(ctx context.Context) (release func(), err error) {
	var conns []*sql.Conn
	release = func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for range s.primary.Stats().MaxOpenConnections {
		c, err := s.primary.Conn(ctx)
		if err != nil {
			release()
			return nil, err
		}
		conns = append(conns, c)
	}
	return release, nil
}

// ReadsPool is the clients' reads' pool.
func (s *Store) ReadsPool() *sql.DB { return s.reads }
