package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlstore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// forEachMySQLGuard runs fn with a fresh counted MySQL store for each guard
// of a group sent in one round trip (forEachGuard), after set.
func forEachMySQLGuard(t *testing.T, set func(s *sqlstore.Store), fn func(t *testing.T, store eventstore.Store, s *sqlstore.Store, m *metrics.Metrics)) {
	t.Helper()
	for name, guard := range map[string]func(*sqlstore.Store){
		"guard UPDATE":       func(*sqlstore.Store) {},
		"guard locking read": sqlstore.GuardWithLockingRead,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New("test")
			store := teststore.OpenCounted(t, teststore.MySQL, m)
			s := store.(*mysqlstore.Store).Store
			guard(s)
			set(s)
			fn(t, store, s, m)
		})
	}
}

// holdLogLock takes log_head's row lock in a transaction of its own, as a
// session in a shell (SELECT … FOR UPDATE) would, and returns its release.
func holdLogLock(t *testing.T, s *sqlstore.Store) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := sqlstore.WritesPool(s).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	released := false
	release = func() {
		if !released {
			released = true
			tx.Rollback() //nolint:errcheck // a read lock's transaction: nothing to keep
			conn.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// commitID reads log_head's commit id.
func commitID(t *testing.T, s *sqlstore.Store) []byte {
	t.Helper()
	var id []byte
	if err := sqlstore.WritesPool(s).QueryRowContext(context.Background(), "SELECT commit_id FROM log_head WHERE id = 1").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// readWithin reads stream id and fails the test if the read is still on
// its way after a hang guard's time (its answer waited for something the
// test holds).
func readWithin(t *testing.T, store eventstore.Store, id uuid.UUID, what string) (eventstore.Stream, error) {
	t.Helper()
	type answer struct {
		st  eventstore.Stream
		err error
	}
	got := make(chan answer, 1)
	go func() {
		st, err := store.Stream(context.Background(), id)
		got <- answer{st, err}
	}()
	select {
	case a := <-got:
		return a.st, a.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer while a session holds log_head's lock; want the read answered at once, the move of the commit id in the background", what)
		return eventstore.Stream{}, nil
	}
}

// TestAStreamsLastEventDeletedIsNotAppendedPastWhenTheSnapshotsCannotBeDropped:
// a read through the writer's instance that found a stream below the
// version the writer's commit left it at forgot the stream first and then
// moved log_head's commit id on the read's own context, which failed (the
// client gone, a session holding the log's lock past the move's bound): it
// only logged, the next read no longer saw the damage, and the writer
// appended from its snapshot past the gap for good (201 at version 3 where
// a 409 belongs). Now the writer's own snapshot goes whatever becomes of the
// move (no statement), and the stream stays known as damaged until a move
// succeeds: a read after the failed move moves it. MySQL (the embedded
// store has no snapshot), both guards.
func TestAStreamsLastEventDeletedIsNotAppendedPastWhenTheSnapshotsCannotBeDropped(t *testing.T) {
	t.Parallel()
	set := func(s *sqlstore.Store) { sqlstore.SetSnapshotDrops(s, 0, 300*time.Millisecond) }
	forEachMySQLGuard(t, set, func(t *testing.T, store eventstore.Store, s *sqlstore.Store, m *metrics.Metrics) {
		ctx := context.Background()
		id := uuid.New()
		appendTwo(t, store, id)
		teststore.MySQL.Exec(t, store, "DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:])
		before := commitID(t, s)
		release := holdLogLock(t, s)
		if st, err := readWithin(t, store, id, "a read of the stream"); err != nil || st.Version != 1 {
			t.Fatalf("a read of the stream whose event at version 2 was deleted: %+v, %v; want version 1", st, err)
		}
		sqlstore.WaitSnapshotDrops(s) // the move runs out of its bound behind the lock
		release()
		if now := commitID(t, s); !bytes.Equal(now, before) {
			t.Fatalf("the commit id moved while a session held the log's lock: the test proves nothing")
		}
		sent := teststore.Statements(t, m, "guard_head")
		y := []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}
		res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2), Events: y})
		var wrong *eventstore.WrongExpectedVersionError
		if !errors.As(err, &wrong) || wrong.Current != 1 {
			t.Errorf("an append expecting version 2, by the writer that wrote the stream last, after a read found it at 1 "+
				"and the commit id could not be moved: %+v, %v; want a wrong expected version, the stream at 1", res, err)
		}
		if teststore.Statements(t, m, "guard_head") != sent {
			t.Errorf("the append was sent from the snapshot after a read met the damage; want it read first")
		}
		// The damage is met again by the next read, which moves the commit
		// id now that the lock is free: other instances' snapshots go too.
		if st, err := store.Stream(ctx, id); err != nil || st.Version != 1 {
			t.Fatalf("a read of the stream again: %+v, %v; want version 1", st, err)
		}
		sqlstore.WaitSnapshotDrops(s)
		if now := commitID(t, s); bytes.Equal(now, before) {
			t.Errorf("a read of the damaged stream after a move of the commit id that failed: the commit id did not move; want it moved")
		}
	})
}

// TestADamagedStreamReadAnswersWithoutWaitingForTheLogsLock: the move of
// the commit id ran in the read, which waited for the log's lock (up to
// 5 s, behind appends or a session holding it) before it answered the
// damage it already knew. Now the read answers at once and the move follows
// in the background, once the lock is free. A stream's row missing, and a
// stream read below its version; MySQL, both guards.
func TestADamagedStreamReadAnswersWithoutWaitingForTheLogsLock(t *testing.T) {
	t.Parallel()
	set := func(s *sqlstore.Store) { sqlstore.SetSnapshotDrops(s, 0, time.Minute) }
	forEachMySQLGuard(t, set, func(t *testing.T, store eventstore.Store, s *sqlstore.Store, _ *metrics.Metrics) {
		ctx := context.Background()
		rowMissing, eventMissing := uuid.New(), uuid.New()
		appendTwo(t, store, rowMissing)
		appendTwo(t, store, eventMissing)
		teststore.MySQL.Exec(t, store, "DELETE FROM streams WHERE stream_id = ?", rowMissing[:])
		teststore.MySQL.Exec(t, store, "DELETE FROM events WHERE stream_id = ? AND stream_version = 2", eventMissing[:])
		before := commitID(t, s)
		release := holdLogLock(t, s)
		if _, err := readWithin(t, store, rowMissing, "a read of the stream whose row of streams is missing"); !isRowMissing(err) {
			t.Errorf("a read of the stream whose row of streams is missing: %v; want the damage", err)
		}
		if st, err := readWithin(t, store, eventMissing, "a read of the stream whose last event is missing"); err != nil || st.Version != 1 {
			t.Errorf("a read of the stream whose last event is missing: %+v, %v; want version 1", st, err)
		}
		release()
		sqlstore.WaitSnapshotDrops(s)
		if now := commitID(t, s); bytes.Equal(now, before) {
			t.Errorf("once the log's lock was free, the commit id had not moved; want it moved by the reads' damage")
		}
		y := []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}
		res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: eventMissing, Expected: eventstore.Exactly(2), Events: y})
		var wrong *eventstore.WrongExpectedVersionError
		if !errors.As(err, &wrong) || wrong.Current != 1 {
			t.Errorf("an append expecting version 2 to the stream read at 1: %+v, %v; want a wrong expected version, the stream at 1", res, err)
		}
	})
}

// TestADamagedStreamReadOverAndOverMovesTheCommitIDOnceASecond: each read of
// a damaged stream moved the commit id (a locked UPDATE and COMMIT on
// log_head), rate-limited a stream: a bad restore that lost the rows of many
// streams made one move a stream read, though one move drops every
// snapshot. Now one move at a time, and none sooner than a second (here an
// hour) after the last: many damaged streams read over and over move it
// once. MySQL, both guards.
func TestADamagedStreamReadOverAndOverMovesTheCommitIDOnceASecond(t *testing.T) {
	t.Parallel()
	set := func(s *sqlstore.Store) { sqlstore.SetSnapshotDrops(s, time.Hour, 0) }
	forEachMySQLGuard(t, set, func(t *testing.T, store eventstore.Store, s *sqlstore.Store, m *metrics.Metrics) {
		ctx := context.Background()
		ids := make([]uuid.UUID, 20)
		for i := range ids {
			ids[i] = uuid.New()
			appendTwo(t, store, ids[i])
		}
		teststore.MySQL.Exec(t, store, "DELETE FROM streams")
		before := commitID(t, s)
		for range 3 {
			for _, id := range ids {
				if _, err := store.Stream(ctx, id); !isRowMissing(err) {
					t.Fatalf("a read of a stream whose row of streams is missing: %v; want the damage", err)
				}
			}
		}
		for end := time.Now().Add(30 * time.Second); bytes.Equal(commitID(t, s), before); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the commit id never moved after reads met the damage")
			}
		}
		for _, id := range ids {
			if _, err := store.Stream(ctx, id); !isRowMissing(err) {
				t.Fatalf("a read of a stream whose row of streams is missing: %v; want the damage", err)
			}
		}
		if n := teststore.Statements(t, m, "drop_snapshots_move_commit_id"); n != 1 {
			t.Errorf("%d damaged streams read %d times: the commit id was moved %d times; want once", len(ids), 4*len(ids), n)
		}
	})
}

// openLoggingTo opens a migrated MySQL store on a new database that logs
// to logged, its snapshot drops held off for an hour.
func openLoggingTo(t *testing.T, logged *testlog.Buffer) *mysqlstore.Store {
	t.Helper()
	ctx := context.Background()
	store, err := mysqlstore.Open(ctx, mysqltest.NewDatabase(t), mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sqlstore.SetSnapshotDrops(store.Store, time.Hour, 0)
	return store
}

// TestAStreamReadBelowItsVersionIsLoggedOnceNamingAReplicaBehindTheDSN:
// behind a proxy that splits reads to a lagging replica on one DSN
// (ProxySQL, MaxScale), a read below the version the writer's commit left
// is lag, which the WARN called events deleted by hand or commits the
// database lost, at every read. It names that setup and its remedy
// (TRIBUTARY_MYSQL_READ_DSN) now, once a second a stream. MySQL.
func TestAStreamReadBelowItsVersionIsLoggedOnceNamingAReplicaBehindTheDSN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logged testlog.Buffer
	store := openLoggingTo(t, &logged)
	id := uuid.New()
	appendTwo(t, store, id)
	if _, err := sqlstore.WritesPool(store.Store).ExecContext(ctx, "DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:]); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if st, err := store.Stream(ctx, id); err != nil || st.Version != 1 {
			t.Fatalf("a read of the stream whose event at version 2 was deleted: %+v, %v; want version 1", st, err)
		}
	}
	lines := 0
	for line := range strings.Lines(logged.String()) {
		if !strings.Contains(line, "read below the version") {
			continue
		}
		lines++
		for _, want := range []string{"deleted by hand", "lost commits", "or reads go to a replica behind the DSN (a proxy splitting reads", "TRIBUTARY_MYSQL_READ_DSN"} {
			if !strings.Contains(line, want) {
				t.Errorf("the WARN of a stream read below its version: %q; want it to say %q", line, want)
			}
		}
	}
	if lines != 1 {
		t.Errorf("three reads of the stream below its version logged %d WARNs; want one:\n%s", lines, logged.String())
	}
}

// TestStreamsReadBelowTheirVersionsLogOneLineAWindowNotOneAStream: behind
// a proxy that splits reads to a lagging replica on one DSN (unsupported,
// but met), every stream the writer wrote lately reads below its version
// within the lag: the warning, kept to once a second a stream, came once
// a second for each of them (a hundred streams read, a hundred lines a
// second). It comes once a window whatever the streams, the next line
// saying how many were met meanwhile unlogged. MySQL (the check is the
// guarded writer's); the replica's lag is played by deleting the events.
func TestStreamsReadBelowTheirVersionsLogOneLineAWindowNotOneAStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logged testlog.Buffer
	store := openLoggingTo(t, &logged)
	ids := make([]uuid.UUID, 20)
	for i := range ids {
		ids[i] = uuid.New()
		appendTwo(t, store, ids[i])
	}
	if _, err := sqlstore.WritesPool(store.Store).ExecContext(ctx, "DELETE FROM events WHERE stream_version = 2"); err != nil {
		t.Fatal(err)
	}
	readAll := func() {
		t.Helper()
		for _, id := range ids {
			if st, err := store.Stream(ctx, id); err != nil || st.Version != 1 {
				t.Fatalf("a read of a stream behind its version: %+v, %v; want version 1", st, err)
			}
		}
	}
	lines := func() []string {
		var got []string
		for line := range strings.Lines(logged.String()) {
			if strings.Contains(line, "read below the version") {
				got = append(got, line)
			}
		}
		return got
	}
	readAll()
	if got := lines(); len(got) != 1 {
		t.Fatalf("%d streams read below their versions logged %d WARNs; want one in the window:\n%s", len(ids), len(got), logged.String())
	}
	sqlstore.SetBelowLogEvery(store.Store, time.Nanosecond) // the window has passed
	readAll()
	got := lines()
	if len(got) < 2 || !strings.Contains(got[1], "unlogged_like_it=19\n") {
		t.Errorf("the line after a window in which %d more streams read below their versions went unlogged: %q; want it to count them (unlogged_like_it=19)", len(ids)-1, got)
	}
}

// TestTheWritersLinesArePassedThroughRedact: the writer's lines quote a
// stream id (the WARN of a stream read below its version) or a driver's
// error that may quote one ("group append failed"), which a client chose
// and which may be a token sent in its place; they were written as they
// were, where the HTTP layer's and the live feed's lines go through the
// redaction of known tokens. Every line the store logs goes through
// Options.Redact. MySQL (the WARN is the guarded writer's).
func TestTheWritersLinesArePassedThroughRedact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	id := uuid.New()
	var logged testlog.Buffer
	redact := func(s string) string { return strings.ReplaceAll(s, id.String(), "REDACTED") }
	store, err := mysqlstore.Open(ctx, mysqltest.NewDatabase(t), mysqlstore.Options{
		Logger: slog.New(slog.NewTextHandler(&logged, nil)), Redact: redact})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sqlstore.SetSnapshotDrops(store.Store, time.Hour, 0)
	appendTwo(t, store, id)
	if _, err := sqlstore.WritesPool(store.Store).ExecContext(ctx, "DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stream(ctx, id); err != nil {
		t.Fatal(err)
	}
	out := logged.String()
	if !strings.Contains(out, "read below the version") || !strings.Contains(out, "REDACTED") {
		t.Fatalf("a stream read below its version, its id redacted: want the WARN with REDACTED for the id; the log:\n%s", out)
	}
	if strings.Contains(out, id.String()) {
		t.Errorf("the log quotes the stream id that Redact takes out:\n%s", out)
	}
}
