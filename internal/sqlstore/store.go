// Package sqlstore is the SQL event store, written once against
// database/sql: the group-commit writer with its pure in-memory plan, the
// append transaction, the read queries and the live feed's tail. MySQL and
// SQLite differ by a small Dialect value; packages mysqlstore and sqlitestore
// open the database, migrate it and give this package their dialect.
//
// Positions are assigned in commit order: every append transaction takes the
// log's write lock first (the dialect's LockHead) and keeps it until COMMIT,
// so a reader that has seen position N could already see every position
// below it.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

var _ eventstore.Store = (*Store)(nil)

// Dialect is what differs between the SQL databases the store runs on.
type Dialect struct {
	// Begin begins an append transaction (the writer's connections are set
	// up for it: isolation level, lock mode).
	Begin string
	// BeginLocks says that Begin takes the log's write lock (SQLite's
	// BEGIN IMMEDIATE), waiting while another connection holds it: a
	// deadline met in that statement is a lock wait's, not a database's
	// that did not answer.
	BeginLocks bool
	// Batch sends the statements of each phase of an append transaction
	// (its reads; then its writes and COMMIT) as one multi-statement round
	// trip; the writer's connections must allow that.
	Batch bool
	// LockHead reads log_head's position and recorded_at, and takes the
	// log's write lock if the transaction does not hold it from its start.
	// With ClockInSQL, a third column is the database's time, read after
	// the lock is held; otherwise the process's clock stamps the events.
	LockHead   string
	ClockInSQL bool
	// GuardedLockHead, where set (batching dialects only), lets the writer
	// send a group's whole transaction in one round trip when it knows the
	// head and the group's streams from its own last commit (guarded.go).
	// It takes two arguments, the head the writer left and the commit id it
	// left with it (log_head.commit_id, which every append sets). Like
	// LockHead, it returns position, recorded_at and the time to stamp the
	// events with, and it also sets the session variable named by NowVar to
	// that time, for the writes that follow it in the batch; but it sets it
	// to NULL, which the writes refuse, unless the head and its commit id
	// are the ones given. GuardedLockHead does not wait for the lock: the
	// batch's COMMIT is on the server with it, and must never run after the
	// callers' deadline. GuardFailed reports the error by which the NULL
	// stops the batch; a lock refused (Refused) or a conflict stops it too,
	// before COMMIT, having written nothing.
	GuardedLockHead string
	// GuardedHead, where set, is the guard in place of GuardedLockHead, and
	// also the head's move: an UPDATE of log_head that moves the head and
	// leaves a new commit id, taking four arguments (the new head, the new
	// commit id, the head the writer left and the commit id it left with
	// it), and sets NowVar to the time to stamp, all only if the head and
	// commit id are the ones given; otherwise it changes nothing and leaves
	// NowVar NULL. It reads nothing back: CommitTime, sent after the
	// writes and just before COMMIT (which is then the batch's last
	// statement: see Unrun), returns the time. It must not wait for the lock, as GuardedLockHead:
	// only where GuardedSet can make a session refuse row locks outright.
	GuardedHead string
	CommitTime  string
	NowVar      string
	GuardFailed func(error) bool
	// GuardedSet is the first statement of a group sent in one round trip:
	// it sets NowVar to NULL (a batch that stopped leaves it set, and a lock
	// that finds no row would not set it), and does what RefuseLocks does.
	GuardedSet string
	// RefuseLocks, where set, makes the session refuse at once any lock it
	// would otherwise wait for: a table's or the server's (DDL beside the
	// service, LOCK TABLES, a backup blocking commits) or a row's (a
	// report's locking read). A statement waiting on one is not ended when
	// the driver closes the connection at the deadline, and a COMMIT sent
	// with or after it would run once the lock came free, after the callers
	// were told the append failed; so the writes and COMMIT go after it.
	// WaitForLocks, which the reads (no COMMIT among them) go after, sets
	// the waits back, for at most left (the time the group has before its
	// callers' deadline): a statement waiting on a lock goes on waiting on
	// the server after the driver closed its connection at the deadline,
	// one session held per timed-out group, so the wait must end by then.
	RefuseLocks  string
	WaitForLocks func(left time.Duration) string
	// Refused reports a lock refused at once (RefuseLocks, NOWAIT) or
	// after the session's wait: the writer waits a little and tries the
	// group again, for as long as its callers wait.
	Refused func(error) bool
	// Leased says that LockHead returns one more column, last: true while
	// the connection's node holds the cluster's writer lease (Galera). A
	// transaction on any other node stops there with ErrNotWriter; the
	// writer then calls NotWriter, which returns once the pools connect to
	// the node that holds the lease (or fails), and tries again.
	Leased    bool
	NotWriter func(context.Context) error
	// TypePairIndex, where set, follows "FROM events" in a log read
	// filtered on one stream type and one event type (or on several of
	// each) to make it read the index on (stream_type, event_type,
	// position): SQLite, which keeps no statistics, took either type's own
	// index, and read all of a common type's events to find a rare one's.
	// Empty where the planner finds the selective index by itself; SQLite's
	// is IndexedByTypePair.
	TypePairIndex string
	// IndexHint, where set, follows "FROM events" in each branch of a log
	// read filtered on several names (see pageQuery), with the index that
	// reads that branch's name (or pair) in position order for its %s:
	// IndexedBy or ForceIndex. The planners otherwise took the primary key
	// for a rare name (MariaDB: 550 rows for 11 events one in 50), or the
	// pair index for one stream type, which is not in position order there,
	// and sorted all of that type's events.
	IndexHint string
	// Replan, where set, is given a read's statement's error and the
	// connection it failed on: where it may be a plan made against that
	// connection's cached schema, older than the database's (SQLite plans
	// against it, and a plan that fails reloads nothing: an index the
	// read names, made right again while the server runs, still fails it
	// there), it makes the connection reload the schema and returns again
	// true: the statement is run once more there. sent says whether it
	// sent a statement of its own to do so (counted as "replan").
	Replan func(ctx context.Context, conn *sql.Conn, err error) (sent, again bool)
	// LockStreams ends the reads of an append's streams: " FOR UPDATE"
	// (NOWAIT where the server takes it) where rows are locked that way
	// (each stream is then read by a part of one UNION ALL of its own,
	// see readStreams), "" where the write lock already covers them.
	LockStreams string
	// UpsertStreams ends the INSERT of the streams an append creates, so
	// that a row left by a stream with no events (removed by hand) takes
	// the new type and creation time.
	UpsertStreams string
	// An INSERT of events holds at most MaxInsertRows rows, and stops
	// adding rows once MaxInsertBytes of data is in it.
	MaxInsertRows  int
	MaxInsertBytes int
	// MaxGroupBytes, if not 0, bounds the bytes of one group's statements
	// as sent, its values written into them (AppendBytes counts an
	// append's share, GroupOverheadBytes the rest): where the dialect
	// batches, a group's writes and COMMIT, and the next group's reads, are
	// one query, which the server refuses past its packet size (MySQL's
	// max_allowed_packet), closing the connection. A group takes appends
	// while they fit; an append that cannot fit alone is refused with
	// eventstore.ErrTooLarge, never sent.
	MaxGroupBytes int64
	// VisibleInCommitOrder says that readers never see a commit before the
	// one that held the log's lock before it (SQLite: one writer, in this
	// process), so reads need not look for missing positions (see
	// visibleUpTo). InnoDB does not promise it.
	VisibleInCommitOrder bool
	// Lost reports an error by which a round trip ended without the
	// server's answer (the connection lost, or cut at the deadline): if it
	// carried COMMIT, the server may have run it all. The writer then
	// settles the group's outcome (settle.go). Nil where that cannot happen
	// (an embedded database).
	Lost func(error) bool
	// SessionLost reports an error by which the session itself was lost
	// (the connection failed or was cut, the session killed): Lost's
	// errors, less the server's answers that Lost counts because they can
	// meet a statement after COMMIT (a statement's time limit, an
	// account's query limit), which say that the session is alive, and
	// which another session meets the same. Settling looks again on
	// another session after it (AgainOnLostSession), never after those.
	SessionLost func(error) bool
	// ReadAgain, where set, reports an error by which a read statement's
	// connection was lost once the statement had gone out, before its
	// answer (go-sql-driver's ErrInvalidConn: a connection closed while it
	// sat idle in the pool, which database/sql does not retry): the read,
	// idempotent, is sent once more on another connection. Never an
	// append's statement, never a statement's time limit or its context's
	// end. Nil for an embedded database, which has no connection to lose.
	ReadAgain func(error) bool
	// DriverReadTimeout is the driver's own bound on each wait for an
	// answer, if any (go-sql-driver's readTimeout): it ends a statement
	// that outlasts it with the same error as a connection cut
	// (ErrInvalidConn, naming no timeout), which ReadAgain cannot tell
	// apart. A read statement that failed no sooner than this after it was
	// sent is not sent again: it would wait its time out again.
	DriverReadTimeout time.Duration
	// Unrun, where set, reports an error the server raises before it runs
	// the statement it refuses, running none after it in the batch (an
	// account's hourly query limit, MySQL's 1226): a batch whose last
	// statement is COMMIT and that it stopped has not committed, and is not
	// settled, which that same refusal would make of unknown outcome.
	Unrun func(error) bool
	// CommitUncertain, where set, reports an error of COMMIT itself after
	// which the transaction may yet be in the database's files for a
	// restart to find, though a read now finds it not committed (SQLite in
	// WAL mode whose sync of the log failed: the commit's frames are in
	// the WAL file, and a crash before the next commit overwrites them
	// recovers them). Such a group is of unknown outcome, never settled.
	CommitUncertain func(error) bool
	// CannotSettle says that a lost COMMIT's outcome cannot be found out
	// here (a Galera cluster: the log's lock on one node holds up no other
	// node's transaction): such an append is of unknown outcome at once.
	CannotSettle bool
	// ReadsLag says that the clients' reads may be on a server a moment
	// behind the live feed's (a Galera cluster): a read up to a position
	// the feed had then checks that its server has it (see readAll).
	ReadsLag bool
	// CommitWithoutDeadline sends COMMIT (one statement at a time only)
	// with the callers' deadline's values but not its end: for an embedded
	// database, whose COMMIT, holding the write lock since BEGIN, waits for
	// no lock, only for the disk, and whose driver reports a statement
	// whose context ended while it ran as the context's error even when it
	// went through, which nothing could settle.
	CommitWithoutDeadline bool
	// Sum, where set, is a checksum of an event that the events table keeps
	// in its checksum column: each INSERT writes the sum of the event as its
	// append took it (computed in Go as the statement is built), and each
	// read of events scans the column last and gives it, with the event as
	// read, to CheckRead (NULL, not Valid, for an event stored before the
	// column was); an error of CheckRead's ends the read with it. Set both
	// or neither: nil, no such column is written or read (MySQL's).
	Sum       func(eventstore.Event) int64
	CheckRead func(e eventstore.Event, sum sql.NullInt64) error
	// Retryable reports an error after which the same transaction may
	// succeed (a deadlock, a lock wait timeout, a busy database).
	Retryable func(error) bool
	// Conflict reports a unique-key violation.
	Conflict func(error) bool
	// Translate maps a driver error to the store's vocabulary:
	// eventstore.ErrUnavailable for a database that cannot serve now.
	Translate func(error) error
	// TranslateRead, if set, is Translate for the reads' and the feed's
	// pools, where they are another server's (a read replica); the writer
	// keeps Translate.
	TranslateRead func(error) error
}

// Options are the parts a Store is made of.
type Options struct {
	// Reads serves clients' reads. Writes is the writer's own pool, so that
	// slow readers never hold up appends. Feed serves the live feed's tail,
	// its durability fence and the readiness probe: no client can take it.
	Reads, Writes, Feed *sql.DB
	// WaitDurable, if set, returns once every commit up to a position is
	// durable, for databases that make a commit visible a moment before it
	// is (MySQL with its binary log off). Nil: commits are durable first.
	WaitDurable func(ctx context.Context, position int64) error
	// Committed, if set, is told the head after each COMMIT of the writer's
	// returns: every commit up to it is durable then.
	Committed func(position int64)
	// WentBack, if set, is told that the live feed found the log gone back
	// under the process (eventstore.LogTail.WentBack): what WaitDurable
	// knew to be durable may be other commits now.
	WentBack func()
	// Committing, if set, is told the head a COMMIT of the writer's will
	// leave, just before it is sent: a reader that sees commits up to there
	// may wait for Committed rather than make them durable itself. The
	// COMMIT may yet fail; Committed is then not told, NotCommitted is.
	Committing func(position int64)
	// NotCommitted, if set, is told when a COMMIT told to Committing did not
	// return success: it failed, its result is unknown, or its round trip
	// stopped before it. No COMMIT of the writer's is on its way then.
	NotCommitted func()
	// BeforeCommit, if set, runs inside each append transaction once it
	// holds the log's lock and has read what it needs, just before its writes
	// and COMMIT. While Hooked reports true, no group is sent in one round
	// trip (guarded.go), so that it always runs so. The stores set them only
	// from their tests.
	BeforeCommit func()
	Hooked       func() bool
	// Check, if set, runs inside each append transaction that writes, once
	// it holds the log's lock and its callers still wait, just before its
	// writes: an error (wrapping eventstore.ErrUnavailable) rolls the group
	// back, nothing written, and is every caller's. The embedded store
	// checks there that its file is still where it opened it. A group sent
	// in one round trip (guarded.go, MySQL only) does not run it.
	Check  func() error
	Logger *slog.Logger
	// Redact, if set, is applied to every string the store's log lines
	// quote (the message, strings, errors, stream ids and other values
	// written as text): a driver's error or a stream id may hold what a
	// client sent, a token among it. The service gives the HTTP layer's
	// redaction of known tokens, as for the live feed's lines.
	Redact func(string) string
	// Metrics counts appends, group commits and statements (nil: none).
	Metrics *metrics.Metrics
	// ReadAhead is how many reads of the next page (ahead.go) may be in
	// flight at once on the Reads pool; 0 reads nothing ahead.
	ReadAhead int
	// Probe, if set, connects to the writer's database for the stall
	// watch (stall.go), on a pool of one connection that the store opens
	// and closes: while a ping has gone unanswered for 5 s, the appends
	// not yet sent are refused at once (ErrUnavailable), and so are the
	// reads, those under way cut, where ProbeReads says that the Reads
	// pool is on that database too. Nil: no watch (an embedded database). Its
	// connections' reads and writes must wait as long as the watch's
	// contexts say, with no timeout of their own: one that ends a read
	// with an error that is not a timeout makes a server that answers
	// nothing look like one that failed fast.
	Probe      driver.Connector
	ProbeReads bool
	// ReadProbe, if set, connects to the Reads' and the Feed's database
	// where it is another than the writer's (a read replica), for a stall
	// watch of its own: while its ping has gone unanswered for 5 s, the
	// reads not yet begun are refused at once (ErrUnavailable), appends
	// going on; ProbeReads is then ignored. Its connections as Probe's.
	ReadProbe driver.Connector
}

// Store is an event store on an SQL database. It does not own the pools:
// Close stops the writer, and the caller closes the pools after it.
type Store struct {
	reader // what clients read, resting on durable commits only
	tail   reader
	feed   *sql.DB
	writer *writer
	stall  *stallWatch // nil without Options.Probe
	// readStall is the reads' watch: stall where the reads are on the
	// writer's database (Options.ProbeReads), the read replica's own
	// (Options.ReadProbe), or nil.
	readStall *stallWatch
	// wentBack is Options.WentBack.
	wentBack func()
}

// New returns a Store and starts its writer.
func New(d Dialect, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = RedactingLogger(opts.Logger, opts.Redact)
	if opts.WaitDurable == nil {
		opts.WaitDurable = func(context.Context, int64) error { return nil }
	}
	if opts.WentBack == nil {
		opts.WentBack = func() {}
	}
	sizes := new(eventSizes)
	read := d.Translate
	if d.TranslateRead != nil {
		read = d.TranslateRead
	}
	var stall *stallWatch
	switch {
	case opts.Probe != nil && opts.ReadProbe != nil:
		stall = watchPrimaryStalls(opts.Probe, opts.Logger)
	case opts.Probe != nil:
		stall = watchStalls(opts.Probe, opts.Logger)
	}
	// A wait for durability is the writer's database's, wherever the
	// reads are: only its watch may end it.
	var readStall, durableStall *stallWatch
	switch {
	case opts.ReadProbe != nil:
		readStall = watchReplicaStalls(opts.ReadProbe, opts.Logger)
	case opts.ProbeReads:
		readStall, durableStall = stall, stall
	}
	if readStall != nil {
		// A read refused as it waited for a connection (take) is the
		// stall's refusal as it stands: nothing of it reached the driver.
		translate := read
		read = func(err error) error {
			if isStall(err) {
				return err
			}
			return translate(err)
		}
	}
	w := newWriter(d, opts, stall)
	var sawVersion func(uuid.UUID, int64, time.Time)
	if w.left != nil {
		sawVersion = w.sawVersion
	}
	return &Store{
		reader: reader{rowMissing: w.dropSnapshots, sawVersion: sawVersion, db: opts.Reads, stall: readStall, durableStall: durableStall, translate: read, waitDurable: opts.WaitDurable, m: opts.Metrics,
			checkVisible: !d.VisibleInCommitOrder, sizes: sizes, typePairIndex: d.TypePairIndex, indexHint: d.IndexHint, check: d.CheckRead,
			replan: d.Replan, readAgain: d.ReadAgain, againWithin: d.DriverReadTimeout, ahead: newReadAhead(opts.ReadAhead), hooks: new(readHooks), readsLag: d.ReadsLag, heads: new(sharedHead)},
		tail: reader{db: opts.Feed, translate: read, m: opts.Metrics, sizes: sizes, typePairIndex: d.TypePairIndex, indexHint: d.IndexHint,
			check: d.CheckRead, replan: d.Replan, readAgain: d.ReadAgain, againWithin: d.DriverReadTimeout},
		feed:      opts.Feed,
		writer:    w,
		stall:     stall,
		readStall: readStall,
		wentBack:  opts.WentBack,
	}
}

// Close finishes the appends already handed to the writer and refuses new
// ones, and stops the reads ahead and the stall watch. It closes no pool of
// Options'.
func (s *Store) Close() {
	s.writer.close()
	s.reader.ahead.close()
	if s.readStall != s.stall {
		s.readStall.close()
	}
	s.stall.close()
}

// Append implements eventstore.Store through the group-commit writer.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return s.writer.append(ctx, req)
}

// TakeQueued is for tests that hold the writer (a hook of theirs, before
// a COMMIT) while appends queue behind it: it takes the appends handed to
// the writer, on the caller's goroutine, in the order they came, until n
// are held for the writer's next group, which they begin, in that order
// (and which takes, as ever, those waiting then too). It returns when
// they are, or an error once ctx ends. Once it returns, the n appends are
// the writer's as surely as if it had taken them: no count of goroutines
// on their way to the hand-off, which a goroutine counted but not yet
// there would have fooled. Called while the writer is not held, it takes
// appends the writer would have, and the count is no longer exact.
func (s *Store) TakeQueued(ctx context.Context, n int) error {
	return s.writer.takeQueued(ctx, n)
}

// Taken reports how many appends the writer has taken into its groups
// since the store opened (counted as each group is formed, before it is
// written), for tests that must know that an append is in a group of its
// own before they make others.
func (s *Store) Taken() int {
	return int(s.writer.grouped.Load())
}

// Stall returns the stall watch's refusal (wrapping
// eventstore.ErrUnavailable) while it holds the writer's database stalled,
// and nil while the database answers or there is no watch. It sends
// nothing: a readiness check that answers for the feed by queries of its
// own asks it first.
func (s *Store) Stall() error { return s.stall.err() }

// ReadStall is Stall for the reads' database: the read replica's own watch
// (Options.ReadProbe) where the reads are on a replica, else Stall's where
// they are on the writer's database (Options.ProbeReads), else nil.
func (s *Store) ReadStall() error { return s.readStall.err() }

// Ping implements eventstore.Store, on the live feed's connections; while
// the stall watch holds the writer's database stalled, it fails at once
// with the watch's error (Stall), taking no connection. The ping is
// counted as a statement of kind "ping".
func (s *Store) Ping(ctx context.Context) error {
	if err := s.Stall(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	s.reader.m.Statement("ping")
	if err := s.feed.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", s.reader.translate(err))
	}
	return nil
}

// Tail implements eventstore.Store: the log on the live feed's own
// connections, with the durability wait.
func (s *Store) Tail() eventstore.LogTail {
	return logTail{reader: s.tail, waitDurable: s.reader.durable, wentBack: s.wentBack}
}

type logTail struct {
	reader
	waitDurable func(ctx context.Context, position int64) error
	wentBack    func()
}

func (t logTail) WaitDurable(ctx context.Context, position int64) error {
	return t.waitDurable(ctx, position)
}

func (t logTail) WentBack() { t.wentBack() }

// MissingFromLog implements eventstore.LogTail: the log this tail reads is
// the one appends write, so a position missing there below events it has
// holds no event (rows removed by hand).
func (logTail) MissingFromLog(context.Context, int64) error { return nil }

// headAndPast reads the log's head and the first position past it, which
// a sound log never has in the same snapshot (a commit moves the head
// with its events): one more probe of events' primary key, in the same
// statement.
const headAndPast = "SELECT h.position, (SELECT e.position FROM events e WHERE e.position > h.position ORDER BY e.position LIMIT 1) " +
	"FROM log_head h WHERE h.id = 1"

// Head implements eventstore.LogTail: the log's head, or, where an event
// lies past it, that damage (headBehindRead), as the tail's reads of the
// log say. The feed follows the head alone while no subscription is open:
// reading it so, it let the first subscription open while the head was
// behind, and ended it at its first poll, where those that open while one
// is open are refused (its Unmendable).
func (t logTail) Head(ctx context.Context) (int64, error) {
	qctx, cancel := t.bound(ctx)
	defer cancel()
	var head int64
	var past sql.NullInt64
	err := t.scanRow(qctx, "read_head", func(row *sql.Row) error { return row.Scan(&head, &past) }, headAndPast)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("read log head: %w", errHeadRowMissing) // as an append that finds it missing says
	case err != nil:
		return 0, fmt.Errorf("read log head: %w", t.translate(err))
	case past.Valid:
		return 0, fmt.Errorf("read log head: %w", headBehindRead(head, past.Int64))
	}
	return head, nil
}

// MendHeadRepair is the statement that mends a log head behind its events
// (the stores' own errors for it name it too).
const MendHeadRepair = "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1"

// HeadAndLast reads the log's head and the last position in events (the
// end of events' primary key: one probe), for the stores' look at a head
// behind its events.
const HeadAndLast = "SELECT h.position, COALESCE((SELECT MAX(e.position) FROM events e), 0) FROM log_head h WHERE h.id = 1"

// headBehindRead is a read's error for an event read at last, past the
// log's head at head (the live feed's tail, or a page of the log):
// damage (eventstore.ErrHeadBehind, ErrDamaged, unavailable), which no
// retry mends.
func headBehindRead(head, last int64) error {
	return fmt.Errorf("%w: %w: %w: the log's head (log_head.position = %d) is behind an event read (position %d): "+
		"events are stored that the head does not count (log_head edited by hand, the tables restored from backups taken apart, "+
		"or something writing to events without the log lock), and every append fails on a position taken; "+
		"with no instance appending meanwhile, mend it with %s (or restore all the tables from one consistent backup)",
		eventstore.ErrUnavailable, eventstore.ErrDamaged, eventstore.ErrHeadBehind, head, last, MendHeadRepair)
}

// ReadAll reads a page of the whole log in one query: the tailer takes all
// of it into memory anyway, so it needs neither the positions first nor the
// page in chunks that clients' reads use. With filters it reads as clients do.
//
// The query reads the log's head with each event, in the same snapshot: an
// event past it is one the head does not count (log_head behind its
// events: edited by hand, tables restored from dumps taken apart), which
// the next appends' positions would take, and the read fails with that
// damage (headBehindRead) rather than hand it to the live feed, whose
// subscribers took it for a live event. A commit moves the head with its
// events, so a sound log never shows one past it.
func (t logTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0 || opts.StreamID != uuid.Nil {
		return t.reader.ReadAll(ctx, opts)
	}
	opts.Limit = eventstore.PageLimit(opts.Limit)
	where, args := logFilter(opts)
	var head sql.NullInt64 // NULL with log_head's row missing: the reads of the head say so
	events, _, full, err := t.readRows(ctx, &rowScanner{check: t.check, head: &head}, 0,
		"SELECT "+t.cols()+", (SELECT position FROM log_head WHERE id = 1) FROM events WHERE "+where+" ORDER BY position LIMIT ?",
		append(args, opts.Limit+1)...)
	if err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
	}
	if n := len(events); n > 0 {
		if err := pastHead(head, events[n-1].Position); err != nil {
			return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
		}
	}
	// A page of large events ends at about a chunk's bytes: the next poll
	// reads on from there.
	page := eventstore.LogPage{Last: opts.After, More: full || len(events) > opts.Limit}
	events = events[:min(len(events), opts.Limit)]
	if len(events) > 0 {
		page.Last = events[len(events)-1].Position
	}
	page.Events = func(yield func(eventstore.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
	return page, nil
}
