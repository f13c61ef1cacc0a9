package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A group sent in one round trip. An append transaction reads before it
// writes (the head, the streams, the known event ids: one round trip) and
// then writes and commits (another). But what it reads is mostly what the
// writer's own last commit left: the head it moved, the streams it wrote to.
// Where the dialect allows (GuardedLockHead), the writer keeps that in a
// snapshot, plans a group whose streams it knows from it, and sends the
// whole transaction at once: BEGIN, the log's lock, the writes and COMMIT.
// The lock is taken without waiting (a batch whose COMMIT is already on the
// server must not wait past its callers' deadline), and it is also the
// guard: it sets the time the writes stamp to NULL, which they refuse,
// unless the head and the random id the writer's last commit left with it
// on log_head are still there. Otherwise some other process has appended
// since (or the database lost the writer's last commit), and the snapshot
// may be stale. (The batch also refuses, rather than waits for, any other
// lock: see Dialect.RefuseLocks.)
// Any other row in the way (an event id the plan could not know was taken,
// a stream that exists after all) fails its INSERT on a unique key. Either
// way the batch stops before COMMIT, the transaction is rolled back, and the
// group is read and planned afresh, as every group was before; what the
// client sees is the same.
// A stream's row of streams deleted by hand leaves the head where it was,
// and the append to a stream that exists writes no row of streams: nothing
// in the batch meets it (looking the rows up in the guard cost a group a
// third of a millisecond). So a read, or an append read first, that meets
// the damage, in any process, drops its own writer's snapshot at once (an
// atomic flag the loop looks at before it plans from the snapshot), and
// gives the head a new commit id in the background, as settling does
// (dropSnapshots): every writer's next group then stops at the guard and
// is read afresh, and answers the damage too. A stream's last event
// deleted by hand is no damage a read can tell, but a read in the writer's
// own process that finds the stream below the version the writer's commit
// left it at does the same (versionsLeft), and every such read again until
// a move of the commit id succeeded. Until one of those reads, the writer
// that wrote the stream last goes on appending to it.

// maxSnapshotStreams bounds the streams a snapshot remembers; past it, it
// starts again from the last group's.
const maxSnapshotStreams = 10000

// snapshot is what the writer knows of the database from its own last
// commit: the head it left, and the state at that head of the streams its
// groups read or wrote since the head last moved under another process.
// Only the writer's loop uses it.
type snapshot struct {
	valid   bool
	head    int64
	commit  uuid.UUID // the id the writer's commit left on log_head with head
	streams map[uuid.UUID]streamState
}

// remember records the state a committed group left, which wrote at least
// one event; read is the head its plan started from, which it read under
// the lock or took from the snapshot. It reports whether the snapshot
// started afresh, forgetting the streams it knew.
func (s *snapshot) remember(read int64, p *plan) bool {
	fresh := !s.valid || s.head != read || len(s.streams) > maxSnapshotStreams
	if fresh {
		s.streams = make(map[uuid.UUID]streamState, len(p.streams))
	}
	for id, st := range p.streams {
		s.streams[id] = st.streamState
	}
	s.valid, s.head, s.commit = true, p.head, p.commit
	return fresh
}

// versionsLeft is, for the reads of the writer's process, the version at
// which each stream of the writer's snapshot was when a commit of the
// writer's, answered at the time kept with it, left it. A stream's version
// only grows: a read begun after that answer, on the writer's database,
// that finds the stream lower, finds events deleted by hand (or a commit
// the database lost), which the snapshot, planning from that version,
// would append past (sawVersion). The writer records a group's streams
// once it has committed (a lock and a map write a stream; no statement).
type versionsLeft struct {
	mu sync.RWMutex
	m  map[uuid.UUID]versionLeft
}

type versionLeft struct {
	version int64
	at      time.Time
}

// record records the versions p left, answered at at; fresh forgets the
// streams recorded before (the snapshot started afresh).
func (v *versionsLeft) record(fresh bool, p *plan, at time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if fresh || v.m == nil {
		v.m = make(map[uuid.UUID]versionLeft, len(p.streams))
	}
	for id, st := range p.streams {
		v.m[id] = versionLeft{version: st.Version, at: at}
	}
}

// below reports whether a read of stream id begun at started found it at
// version, below the version a commit answered before started left it at,
// which it returns. The stream stays recorded, so that every read finds the
// damage again until the snapshots are dropped (forget).
func (v *versionsLeft) below(id uuid.UUID, version int64, started time.Time) (versionLeft, bool) {
	v.mu.RLock()
	left, ok := v.m[id]
	v.mu.RUnlock()
	if !ok || version >= left.version || !started.After(left.at) {
		return versionLeft{}, false
	}
	return left, true
}

// forget forgets stream id, if no commit recorded it again since left:
// every snapshot that may hold it as left was dropped.
func (v *versionsLeft) forget(id uuid.UUID, left versionLeft) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m[id] == left {
		delete(v.m, id)
	}
}

// forget drops the snapshot: the next group reads first.
func (s *snapshot) forget() { s.valid = false }

// plan plans calls from the snapshot and returns the plan with each call's
// outcome, or nil if the snapshot cannot decide them all: a stream it does
// not know (unless the call requires that the stream not exist, which the
// stream's first event's unique key then checks), or a call that the plan
// refuses or finds to be a retry. Refusals and retries are decided on a
// fresh read, never from the snapshot.
func (s *snapshot) plan(calls []*call) (*plan, []outcome) {
	if !s.valid {
		return nil, nil
	}
	found := make(map[uuid.UUID]streamState, len(calls))
	for _, c := range calls {
		st, ok := s.streams[c.req.StreamID]
		if !ok && c.req.Expected != eventstore.NoStream {
			return nil, nil
		}
		if ok {
			found[c.req.StreamID] = st
		}
	}
	// The time is the database's, known only once the lock is held: the
	// plan stamps nothing, and sendGuarded fills the time in.
	p := newPlan(s.head, time.Time{}, calls, found, make(map[uuid.UUID]knownEvent))
	out := make([]outcome, len(calls))
	for i, c := range calls {
		if out[i] = p.apply(c); out[i].err != nil || out[i].res.Duplicate {
			return nil, nil
		}
	}
	return p, out
}

// dropSnapshotsTimeout bounds a move of the commit id (dropSnapshots).
const dropSnapshotsTimeout = 5 * time.Second

// dropSnapshotsEvery: damage met again within it of a move's start (a
// client reading a damaged stream in a loop, many streams a bad restore
// damaged) moves the commit id no sooner: one move drops every snapshot.
// It also keeps the WARN of a stream read below its version to once in it.
const dropSnapshotsEvery = time.Second

// dropSnapshotsBackoff bounds the doubling of the wait after moves that
// failed in a row (a primary put in read_only refuses each at once): the
// wait grows to at most this many dropSnapshotsEvery.
const dropSnapshotsBackoff = 32

// moveFailedLogEvery is the least time between two WARNs of one spell of
// moves that failed; the first of a spell is logged at once.
const moveFailedLogEvery = time.Minute

// snapshotDrops moves log_head's commit id for the writer's process, in the
// background, one attempt at a time: a read that meets damage answers it at
// once, not after the log's lock, and the writer's loop is not held up.
type snapshotDrops struct {
	mu      sync.Mutex
	running bool      // a goroutine moves the commit id, or waits to
	again   bool      // damage met since the move under way began: move once more
	closed  bool      // the writer closed: no move begins
	began   time.Time // when the last move began, whatever became of it
	failed  int       // moves that failed since the last that succeeded
	// logged: when a move that failed was last logged; unlogged: how
	// many failed since, unlogged (one WARN a spell, then a count).
	logged   time.Time
	unlogged int
	// forget: the streams of versionsLeft to forget once a move begun
	// after their damage was met succeeds (bounded by versionsLeft's size).
	forget map[uuid.UUID]versionLeft
	idle   chan struct{} // closed when the goroutine under way ends
	// life ends when the writer closes: the wait for the next move, and
	// the move under way, end with it (end).
	life  context.Context
	end   context.CancelFunc
	every time.Duration // dropSnapshotsEvery, or a test's
	bound time.Duration // dropSnapshotsTimeout, or a test's
}

// belowLogEvery is the least time between two lines of streams read below
// the version the writer's commit left (sawVersion), whatever the streams.
const belowLogEvery = 10 * time.Second

// warnedOf keeps the lines of streams read below their versions to one a
// belowLogEvery: behind a proxy that splits reads to a lagging replica on
// one DSN, every stream written lately reads so within the lag, and one
// line a second a stream made a hundred lines a second of a hundred
// streams read. The next line counts those met meanwhile unlogged.
type warnedOf struct {
	mu       sync.Mutex
	last     time.Time     // when a line was last logged
	unlogged int           // streams met since, unlogged
	every    time.Duration // belowLogEvery, or a test's
}

// first reports whether a stream met at now is logged, and if so how many
// were met unlogged since the last line.
func (d *warnedOf) first(now time.Time) (bool, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.last.IsZero() && now.Sub(d.last) < orDuration(d.every, belowLogEvery) {
		d.unlogged++
		return false, 0
	}
	n := d.unlogged
	d.last, d.unlogged = now, 0
	return true, n
}

// dropSnapshots is told of a stream met damaged: its row of streams missing
// while its events are there, or read below a version this writer's commit
// left it at (sawVersion). The writer's own snapshot, which may hold the
// stream as it was, goes before its next group (stale: no statement, it
// cannot fail), and log_head gets a new commit id (the head unmoved), in the
// background, so that every other writer's goes too (see above). It runs
// only where groups go guarded, and only on damage: never in an append or
// read of sound streams. It returns at once.
func (w *writer) dropSnapshots() { w.dropSnapshotsFor(uuid.Nil, versionLeft{}) }

// dropSnapshotsFor is dropSnapshots, which also forgets stream id in
// versionsLeft, recorded as left, once a move of the commit id succeeded
// (uuid.Nil: none).
func (w *writer) dropSnapshotsFor(id uuid.UUID, left versionLeft) {
	if !w.d.Batch || w.d.GuardedLockHead == "" {
		return
	}
	w.stale.Store(true)
	d := &w.drops
	d.mu.Lock()
	defer d.mu.Unlock()
	if id != uuid.Nil && len(d.forget) < maxSnapshotStreams {
		if d.forget == nil {
			d.forget = make(map[uuid.UUID]versionLeft)
		}
		d.forget[id] = left
	}
	if d.closed || d.life == nil {
		return
	}
	if d.running {
		d.again = true
		return
	}
	d.running, d.idle = true, make(chan struct{})
	go w.moveInBackground(d.idle)
}

// moveInBackground moves the commit id, no sooner than every after the
// last move began, or, after moves that failed in a row, twice as long as
// the wait before the last (up to dropSnapshotsBackoff times every): a
// failure met at once (the primary read-only) is no statement a damaged
// read. It moves again while damage was met during a move. A spell of
// failures is logged once (then at most once a moveFailedLogEvery, with a
// count), and the move that ends it says how many failed: this process's
// snapshot went anyway, and a read that meets the damage again tries again.
func (w *writer) moveInBackground(idle chan struct{}) {
	defer close(idle)
	d := &w.drops
	for {
		d.mu.Lock()
		wait := time.Until(d.began.Add(d.wait()))
		d.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-d.life.Done():
				timer.Stop()
			}
		}
		d.mu.Lock()
		if d.closed {
			d.running = false
			d.mu.Unlock()
			return
		}
		d.again = false
		forget := d.forget
		d.forget = nil
		d.began = time.Now()
		d.mu.Unlock()
		err := w.stall.err()
		if err == nil {
			ctx, cancel := context.WithTimeout(d.life, orDuration(d.bound, dropSnapshotsTimeout))
			err = w.moveCommitID(ctx)
			cancel()
		}
		if err == nil && w.left != nil {
			for id, left := range forget {
				w.left.forget(id, left)
			}
		}
		d.mu.Lock()
		failed, log, unlogged := d.outcome(err, time.Now())
		again := d.again && !d.closed
		d.running = again
		d.mu.Unlock()
		switch {
		case err != nil && log:
			attrs := []any{"error", err, "failed_moves", failed}
			if unlogged > 0 {
				attrs = append(attrs, "unlogged_like_it", unlogged)
			}
			w.log.Warn("a stream was found damaged, and other instances' writers' snapshots that may hold it as it was could not be dropped: "+
				"their groups sent in one round trip may still append to it until a read meets the damage again (this instance's writer reads it afresh)",
				attrs...)
		case err == nil && failed > 0:
			w.log.Info("log_head's commit id moved after moves that failed: other instances' writers' snapshots of damaged streams are dropped",
				"failed_moves", failed)
		}
		if !again {
			return
		}
	}
}

// wait is how long after the last move began the next may begin: every,
// doubled for each move that failed in a row past the first, up to
// dropSnapshotsBackoff times every. d.mu is held.
func (d *snapshotDrops) wait() time.Duration {
	every := orDuration(d.every, dropSnapshotsEvery)
	wait := every
	for i := 1; i < d.failed && wait < dropSnapshotsBackoff*every; i++ {
		wait *= 2
	}
	return min(wait, dropSnapshotsBackoff*every)
}

// outcome records a move's outcome, err, known at now. After a failure it
// returns the moves failed in a row and whether to log this one (the first
// of a spell, or moveFailedLogEvery after the last logged) with how many
// went unlogged since; after a success, the moves that failed before it,
// ending their spell. d.mu is held.
func (d *snapshotDrops) outcome(err error, now time.Time) (failed int, log bool, unlogged int) {
	if err == nil {
		failed, d.failed, d.unlogged = d.failed, 0, 0
		return failed, false, 0
	}
	d.failed++
	if d.failed > 1 && now.Sub(d.logged) < moveFailedLogEvery {
		d.unlogged++
		return d.failed, false, 0
	}
	unlogged, d.logged, d.unlogged = d.unlogged, now, 0
	return d.failed, true, unlogged
}

// closeDrops stops moves of the commit id and waits for the one under way.
func (w *writer) closeDrops() {
	d := &w.drops
	d.mu.Lock()
	d.closed = true
	if d.end != nil {
		d.end()
	}
	idle := d.idle
	d.mu.Unlock()
	if idle != nil {
		<-idle
	}
}

// orDuration is d, or def if d is 0.
func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// sawVersion is told of a read of stream id, begun at started on the
// writer's database, that found it at version: below the version one of
// the writer's commits left it at, answered before the read began, the
// stream lost events by hand since, and every snapshot is dropped
// (dropSnapshots), so that the next append to it reads it as it is.
func (w *writer) sawVersion(id uuid.UUID, version int64, started time.Time) {
	left, ok := w.left.below(id, version, started)
	if !ok {
		return
	}
	if ok, unlogged := w.warned.first(time.Now()); ok {
		attrs := []any{"stream_id", id, "version_read", version, "version_committed", left.version}
		if unlogged > 0 {
			attrs = append(attrs, "unlogged_like_it", unlogged)
		}
		w.log.Warn("a stream was read below the version this instance's commit left it at: its last events were deleted by hand, "+
			"or the database lost commits, or reads go to a replica behind the DSN (a proxy splitting reads: give the replica as TRIBUTARY_MYSQL_READ_DSN); "+
			"appends to it go by what the database holds now", attrs...)
	}
	w.dropSnapshotsFor(id, left)
}

// moveCommitID gives log_head a new commit id under the log's lock, in a
// transaction of its own, waiting for the lock as long as ctx lets it.
func (w *writer) moveCommitID(ctx context.Context) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if w.d.WaitForLocks != nil {
		// A pooled session may refuse locks (RefuseLocks), as settling's.
		deadline, _ := ctx.Deadline()
		w.m.Statement("drop_snapshots_wait_for_locks")
		if _, err := conn.ExecContext(ctx, w.d.WaitForLocks(time.Until(deadline))); err != nil {
			return fmt.Errorf("wait_for_locks: %w", err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, or nothing to undo
	fence := uuid.New()
	w.m.Statement("drop_snapshots_move_commit_id")
	if _, err := tx.ExecContext(ctx, "UPDATE log_head SET commit_id = ? WHERE id = 1", fence[:]); err != nil {
		return fmt.Errorf("move_commit_id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// errStopped is a guarded batch's that stopped before COMMIT and wrote
// nothing: the head had moved, a unique key was in the way, or another
// transaction held the log's lock.
var errStopped = errors.New("the group could not go in one round trip")

// sendGuarded sends the group p, planned from the snapshot whose head is
// from and whose commit id is commit, as one round trip, and stamps out
// with the time it committed at. It returns errStopped, having written
// nothing, if the guard or a unique key stopped the batch before COMMIT, or
// if another transaction held the log's lock, which the batch does not wait
// for; any other error is as writeAndCommit's.
func (w *writer) sendGuarded(ctx context.Context, p *plan, from int64, commit uuid.UUID, out []outcome) error {
	// The wait for a connection (one being made to a server that says
	// nothing, say) ends too once a stall begins: nothing was sent.
	cctx, unwatch := w.stall.until(ctx)
	conn, err := w.db.Conn(cctx)
	unwatch()
	if serr := context.Cause(cctx); isStall(serr) {
		if conn != nil {
			conn.Close()
		}
		return fmt.Errorf("%w: %w", errCommitNotSent, serr)
	}
	if err != nil {
		return fmt.Errorf("%w: %w: %w", errNoConnection, errCommitNotSent, err)
	}
	t := &appendTx{conn: conn, d: w.d, m: w.m, open: true, stall: w.stall}
	stmts := []statement{
		// Clears the time (a batch that stopped leaves it set, and a guard
		// that finds no row, log_head's deleted by hand, would not set it),
		// and refuses locks rather than wait for them, as RefuseLocks:
		// COMMIT is on its way, and must not run after the callers'
		// deadline.
		{"set_session", w.d.GuardedSet, nil},
		{"begin", w.d.Begin, nil},
	}
	// The guard takes the lock, and sets the time, to NULL unless the head
	// is where the snapshot left it, with the commit id the writer left
	// there (a number alone could come back after a commit the database
	// lost: unsafe durability, a failover; and so could the id of the event
	// at it, which a client may retry). The first write refuses a NULL
	// time, which stops the batch before anything is written.
	if w.d.GuardedHead != "" {
		// The guard also moves the head, so the batch reads nothing but the
		// time, after the writes, which the driver returns at; COMMIT goes
		// last, so that a statement refused before it ran (Unrun) says that
		// the batch did not commit.
		p.commit = uuid.New()
		stmts = append(stmts, statement{"guard_head", w.d.GuardedHead, []any{p.head, p.commit[:], from, commit[:]}})
		stmts = append(stmts, t.writes(p, w.d.NowVar)...)
		stmts = append(stmts, statement{"commit_time", w.d.CommitTime, nil}, statement{"commit", "COMMIT", nil})
	} else {
		stmts = append(stmts, statement{"guard_head", w.d.GuardedLockHead, []any{from, commit[:]}})
		stmts = append(stmts, t.writes(p, w.d.NowVar)...)
		stmts = append(stmts, setHead(p, w.d.NowVar), statement{"commit", "COMMIT", nil})
	}
	for _, s := range stmts {
		w.m.Statement(s.kind)
	}
	query, args := join(stmts)
	// The driver returns with the first result set, and with the error of
	// any statement before it: the lock's (NOWAIT refusing a busy lock
	// stops the batch there), or with GuardedHead, any statement's.
	rows, err := conn.QueryContext(ctx, query, args...)
	var now time.Time
	if err == nil {
		now, err = w.readBack(t, rows, from)
		if cerr := rows.Close(); err == nil && cerr != nil {
			// Every answer was read, COMMIT's too: it committed.
			err = fmt.Errorf("%w: %w", errAnswerUnread, cerr)
		}
	}
	if err != nil {
		t.rollback()
		if w.d.Conflict(err) || w.stopped(err) {
			return fmt.Errorf("%w: %w", errStopped, err)
		}
		if w.d.Unrun != nil && w.d.Unrun(err) {
			// Refused at COMMIT at the latest, which did not run.
			err = fmt.Errorf("%w: %w", errCommitNotSent, err)
		}
		return fmt.Errorf("write events and head, and commit: %w", err)
	}
	t.open = false
	conn.Close()
	stamp(p, out, now)
	return nil
}

// stamp gives a guarded group's outcomes, and the streams it creates, the
// time it committed at, which the database chose.
func stamp(p *plan, out []outcome, now time.Time) {
	p.now = now
	for i := range out {
		for j := range out[i].res.Events {
			out[i].res.Events[j].RecordedAt = now
		}
	}
	for _, st := range p.streams {
		if st.CreatedAt.IsZero() {
			st.CreatedAt = now
		}
	}
}

// errAnswerUnread is a guarded batch's whose answers the writer could not
// make sense of (a time it could not scan, a result set where none should
// be), the server's answers after them saying that the batch ran on to
// COMMIT: it committed, or may have, and what it stamped is not known
// here. It is settled, as a lost answer is.
var errAnswerUnread = errors.New("the round trip with COMMIT ran, and its answer could not be read")

// readBack reads a guarded batch's results: the time it stamped, and the
// answers of its writes and of COMMIT. The server runs the whole batch
// whatever the writer makes of the answers, so an error of the reading's
// own leaves the outcome to the server's answers after it, which it reads
// on: an error there is the batch's (it stopped there, or COMMIT failed, or
// the answer was lost), and none says that COMMIT ran (errAnswerUnread).
func (w *writer) readBack(t *appendTx, rows *sql.Rows, from int64) (time.Time, error) {
	var now time.Time
	var err error
	if w.d.GuardedHead != "" {
		now, err = scanCommitTime(rows)
	} else {
		now, err = w.scanGuard(t, rows, from)
	}
	if err == nil {
		return now, nil
	}
	for rows.NextResultSet() {
	}
	if serr := rows.Err(); serr != nil {
		if !errors.Is(err, serr) {
			err = fmt.Errorf("%w (after: %w)", serr, err)
		}
		return time.Time{}, err
	}
	return time.Time{}, fmt.Errorf("%w: %w", errAnswerUnread, err)
}

// scanGuard reads the results of a batch guarded by GuardedLockHead: the
// head and the time, then the writes' and COMMIT's, the first error of which
// stopped the batch.
func (w *writer) scanGuard(t *appendTx, rows *sql.Rows, from int64) (time.Time, error) {
	head, now, err := t.scanHead(rows)
	if err != nil {
		return time.Time{}, err
	}
	for rows.NextResultSet() {
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, err
	}
	if head != from {
		// Committed although the guard should have stopped it: only a
		// writer that ignores the log's lock could do this.
		w.log.Error("a group sent in one round trip committed although the log's head had moved; something writes the log without its lock",
			"snapshot_head", from, "head", head)
	}
	return now, nil
}

// scanCommitTime reads the time a batch guarded by GuardedHead stamped, the
// result of its last statement before COMMIT (CommitTime), and COMMIT's
// answer.
func scanCommitTime(rows *sql.Rows) (time.Time, error) {
	var now sql.NullTime
	if !rows.Next() {
		return time.Time{}, orDefault(rows.Err(), errors.New("commit_time: no row"))
	}
	if err := rows.Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("commit_time: %w", err)
	}
	if !now.Valid {
		return time.Time{}, errors.New("commit_time: the time is NULL after the writes")
	}
	for rows.Next() {
	}
	if rows.NextResultSet() {
		return time.Time{}, errors.New("commit: a result set after commit_time's")
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, fmt.Errorf("commit: %w", err)
	}
	return now.Time.UTC(), nil
}

// stopped reports an error by which a guarded batch stopped before COMMIT:
// a lock it did not wait for, or the guard's NULL time.
func (w *writer) stopped(err error) bool {
	return w.d.Refused != nil && w.d.Refused(err) || w.d.GuardFailed != nil && w.d.GuardFailed(err)
}
