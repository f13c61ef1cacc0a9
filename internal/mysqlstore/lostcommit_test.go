package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendWhoseCommitsAnswerIsLostIsReportedAsItEnded: the connection
// is cut the moment the round trip that holds an append's COMMIT has reached
// the server, before any answer comes back. The server runs it (nothing
// waits in it), so the events are stored; the append must then be answered
// as written, with the versions and positions the log holds, and not as
// failed (a client without event ids that retried a 503 would write them
// twice). Both ways to the COMMIT: a group sent in one round trip (after an
// append of the writer's own, its snapshot lets it), and one that read
// first (with a BeforeCommit hook, which holds groups to that way). The
// server may stop the cut round trip before its COMMIT (see
// loseTheAnswerOfACommitThatRan): that try is not this test's case; its
// answer is checked against what its stream holds, and it tries again.
func TestAnAppendWhoseCommitsAnswerIsLostIsReportedAsItEnded(t *testing.T) {
	t.Parallel()
	for _, way := range []string{"one round trip", "read first"} {
		t.Run(way, func(t *testing.T) {
			t.Parallel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			s, m := openCounted(t, dsn)
			if way == "read first" {
				s.SetBeforeCommit(func() {})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			one := func(n int) eventstore.NewEvent {
				return eventstore.NewEvent{Type: "counted", Data: []byte(`{"n":` + string(rune('0'+n)) + `}`)}
			}
			var stream uuid.UUID
			var res eventstore.AppendResult
			var err error
			// answeredAsStored fails the test unless the append was answered
			// as written, at versions 2 and 3, with what the stream holds:
			// the right answer whether the cut round trip committed or the
			// group was written again after settling found it had not.
			answeredAsStored := func(settled string) {
				t.Helper()
				stored := streamEvents(ctx, t, s, stream)
				if len(stored) != 3 {
					if err == nil {
						t.Fatalf("append reported written (%+v), but the stream holds %d events (%s)", res, len(stored), settled)
					}
					t.Fatalf("%s, but the stream holds %d events (append: %v)", settled, len(stored), err)
				}
				if err != nil {
					t.Fatalf("append whose round trip with COMMIT was cut: %v; the stream holds its events at versions 2 and 3 (%s), so it must be answered as written", err, settled)
				}
				if res.Version != 3 || len(res.Events) != 2 || res.Duplicate {
					t.Fatalf("append whose answer was cut: got %+v, want version 3 with two events, not a replay (%s)", res, settled)
				}
				for i, e := range res.Events {
					got := stored[i+1]
					if e.ID != got.ID || e.Version != got.Version || e.Position != got.Position || !e.RecordedAt.Equal(got.RecordedAt) {
						t.Errorf("event %d answered as %+v; the log holds id %s version %d position %d recorded %s (%s)",
							i, e, got.ID, got.Version, got.Position, got.RecordedAt, settled)
					}
				}
			}
			loseTheAnswerOfACommitThatRan(t, proxy, m, func() {
				stream = uuid.New()
				if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "counter", Expected: eventstore.NoStream,
					Events: []eventstore.NewEvent{one(1)}}); err != nil {
					t.Fatalf("first append: %v", err)
				}
			}, func() {
				res, err = s.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1),
					Events: []eventstore.NewEvent{one(2), one(3)}})
			}, func() { answeredAsStored(settledNotCommitted) })
			answeredAsStored("settling found that the cut round trip committed")
			// The store goes on: the next append is written after them.
			next, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(3), Events: []eventstore.NewEvent{one(4)}})
			if err != nil || next.Version != 4 {
				t.Fatalf("append after the cut: %+v, %v; want version 4", next, err)
			}
		})
	}
}

// cutTries bounds the tries of loseTheAnswerOfACommitThatRan.
const cutTries = 10

// loseTheAnswerOfACommitThatRan runs setup, then cut, an append whose round
// trip with COMMIT the proxy cuts, again (setup too) until settling found
// that the cut round trip committed: it looked for the group's events
// (settle_find_events) and did not move the head's commit id, as it does
// when they are not there (settle_move_commit_id). CutAfter closes the
// server's side of the connection too, and a server that finds its client
// gone as it answers a statement of the batch before COMMIT (the guard's,
// the commit time's, a write's: the proxy's close makes the server's next
// write fail) stops the batch there: then the round trip did not commit,
// settling says so, and the group is written again, an answer that is
// right, but not the case of a test of a COMMIT that ran.
// That a try is of that case is settling's own word, the very judgment
// these tests exist to check (settling that says "not committed" of a
// COMMIT that ran sends the group again: refused, or written twice). So
// before a try is set aside, written again checks it: that the append was
// answered as written, once, with what its stream holds, and it fails the
// test if not; only then is the case tried again.
// It fails the test if the proxy never cut a round trip with COMMIT, or no
// try reached that case.
func loseTheAnswerOfACommitThatRan(t *testing.T, proxy *faultproxy.Proxy, m *metrics.Metrics, setup, cut, writtenAgain func()) {
	t.Helper()
	for try := 1; try <= cutTries; try++ {
		setup()
		found, moved := teststore.Statements(t, m, "settle_find_events"), teststore.Statements(t, m, "settle_move_commit_id")
		done := proxy.CutAfter(mysqltest.SendsCommit)
		cut()
		select {
		case <-done:
		default:
			t.Fatalf("the proxy never saw the round trip with COMMIT (try %d)", try)
		}
		f, mv := teststore.Statements(t, m, "settle_find_events")-found, teststore.Statements(t, m, "settle_move_commit_id")-moved
		if f == 1 && mv == 0 {
			return
		}
		writtenAgain()
		t.Logf("try %d: the cut round trip did not commit (settle_find_events %d, settle_move_commit_id %d): the server stopped it before COMMIT, "+
			"and the group written again was answered as the stream holds it; trying again", try, f, mv)
	}
	t.Fatalf("in %d tries, no cut round trip with COMMIT committed: the test never reached the case it is for", cutTries)
}

// settledNotCommitted is what a try that loseTheAnswerOfACommitThatRan
// sets aside was, for its checks' messages.
const settledNotCommitted = "settling found that the cut round trip had not committed, and the group was written again"

// streamEvents is every event of stream (up to 100), read from s.
func streamEvents(ctx context.Context, t *testing.T, s *mysqlstore.Store, stream uuid.UUID) []eventstore.Event {
	t.Helper()
	page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 1, Limit: 100})
	if err != nil {
		t.Fatalf("read the stream after the cut: %v", err)
	}
	var stored []eventstore.Event
	for e, err := range page.Events {
		if err != nil {
			t.Fatalf("read the stream after the cut: %v", err)
		}
		stored = append(stored, e)
	}
	return stored
}

// TestAnAppendWhoseLostRoundTripDidNotCommitIsTriedAgain: the round trip
// cut is a group sent in one round trip that the server stops (another
// process appended since the writer's last commit, so its guard fails).
// Settling finds that it did not commit, and makes sure it never will; the
// group is then read and planned afresh, as after any stale snapshot, and
// the append succeeds, written once.
func TestAnAppendWhoseLostRoundTripDidNotCommitIsTriedAgain(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target()
	a, b := teststore.OpenMySQL(t, dsn), teststore.OpenMySQL(t, cfg.FormatDSN())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev := eventstore.NewEvent{Type: "counted", Data: []byte(`{}`)}
	mine, theirs := uuid.New(), uuid.New()
	if _, err := a.Append(ctx, eventstore.AppendRequest{StreamID: mine, StreamType: "counter", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev}}); err != nil {
		t.Fatalf("first append: %v", err)
	}
	if _, err := b.Append(ctx, eventstore.AppendRequest{StreamID: theirs, StreamType: "counter", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev}}); err != nil {
		t.Fatalf("the other process's append: %v", err)
	}
	cut := proxy.CutAfter(mysqltest.SendsCommit)
	res, err := a.Append(ctx, eventstore.AppendRequest{StreamID: mine, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev}})
	select {
	case <-cut:
	case <-time.After(30 * time.Second): // the proxy closes cut just after the client's side
		t.Fatalf("the proxy never saw the round trip with COMMIT (append: %+v, %v)", res, err)
	}
	if err != nil || res.Version != 2 || res.Duplicate {
		t.Fatalf("append whose guarded round trip was stopped and its answer cut: %+v, %v; want it read afresh and written at version 2", res, err)
	}
	st, err := b.Stream(ctx, mine)
	if err != nil || st.Version != 2 {
		t.Fatalf("the stream after: %+v, %v; want version 2: written once", st, err)
	}
	if head, err := b.Head(ctx); err != nil || head != 3 {
		t.Fatalf("the log's head after: %d, %v; want 3: three events, each once", head, err)
	}
}

// TestAnAppendWhoseLostRoundTripStoppedOnAStoredEventIDIsNotReportedWritten:
// the client chose an event id the log already holds. A group sent in one
// round trip does not read the ids its clients chose: its INSERT stops on
// the id's unique key, before COMMIT, and nothing is written; the group is
// then read first, which finds the id. When that round trip's answer is cut,
// settling must not take the stored event for the group's own, which would
// answer the append as written at a version and position the log does not
// give it: the append is answered as when the answer comes back.
//   - A retry of a stored append (expecting any version): a replay, with
//     the stored event's version and position.
//   - The id stored in another stream: a duplicate event id.
func TestAnAppendWhoseLostRoundTripStoppedOnAStoredEventIDIsNotReportedWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		retry bool
	}{{"a retry of a stored append", true}, {"an id stored in another stream", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			s := teststore.OpenMySQL(t, dsn)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			mine := uuid.New()
			stored := eventstore.NewEvent{ID: uuid.New(), Type: "counted", Data: []byte(`{"n":1}`)}
			req := eventstore.AppendRequest{StreamID: mine, StreamType: "counter", Expected: eventstore.Any, Events: []eventstore.NewEvent{stored}}
			if !tc.retry {
				// The id goes to another stream; the stream is made by an
				// append of the writer's own, so that its snapshot knows it.
				other := req
				other.StreamID = uuid.New()
				if _, err := s.Append(ctx, other); err != nil {
					t.Fatalf("the append that stores the id: %v", err)
				}
				req.Events = []eventstore.NewEvent{{Type: "counted", Data: []byte(`{}`)}}
			}
			original, err := s.Append(ctx, req)
			if err != nil {
				t.Fatalf("the first append to the stream: %v", err)
			}
			if !tc.retry {
				req.Events = []eventstore.NewEvent{stored}
			}
			head, err := s.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cut := proxy.CutAfter(mysqltest.SendsCommit)
			res, err := s.Append(ctx, req)
			select {
			case <-cut:
			case <-time.After(30 * time.Second): // the proxy closes cut just after the client's side
				t.Fatalf("the proxy never saw the round trip with COMMIT (append: %+v, %v)", res, err)
			}
			switch {
			case tc.retry && (err != nil || !res.Duplicate || res.Version != original.Version || len(res.Events) != 1 ||
				res.Events[0].Position != original.Events[0].Position || !res.Events[0].RecordedAt.Equal(original.Events[0].RecordedAt)):
				t.Fatalf("retry of a stored append, its round trip's answer cut: got %+v, %v; want a replay of %+v", res, err, original)
			case !tc.retry && !errors.Is(err, eventstore.ErrDuplicateEventID):
				t.Fatalf("append of an event id stored in another stream, its round trip's answer cut: got %+v, %v; want %v",
					res, err, eventstore.ErrDuplicateEventID)
			}
			if st, err := s.Stream(ctx, mine); err != nil || st.Version != 1 {
				t.Fatalf("the stream after: %+v, %v; want version 1: nothing more written", st, err)
			}
			if after, err := s.Head(ctx); err != nil || after != head {
				t.Fatalf("the log's head after: %d, %v; want %d: nothing more written", after, err, head)
			}
		})
	}
}

// TestARoundTripSettledAsNotCommittedNeverCommitsWhenItReachesTheServerLate:
// a group sent in one round trip is held on its way to the server until
// after its caller's deadline, when the driver cuts the connection and the
// writer settles the group: not there. The caller is told it failed. The
// round trip then reaches the server, which runs it: the head it guards on
// has not moved, and only the commit id settling moved under the log's lock
// stops it. Nothing may be written after the caller was told it failed.
func TestARoundTripSettledAsNotCommittedNeverCommitsWhenItReachesTheServerLate(t *testing.T) {
	t.Parallel()
	ctx, _, proxy, s, m, mine, ev := oneEventBehindProxy(t)
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	res, err := appendHeldPastItsDeadline(ctx, t, s, mine, ev, held)
	if err == nil {
		t.Fatalf("append whose round trip was held past its deadline: %+v; want it failed (the round trip had not reached the server)", res)
	}
	release()
	released = true
	if st, err := s.Stream(ctx, mine); err != nil || st.Version != 1 {
		t.Fatalf("the stream once the held round trip reached the server: %+v, %v; want version 1: the append was told it failed", st, err)
	}
	if head, err := s.Head(ctx); err != nil || head != 1 {
		t.Fatalf("the log's head once the held round trip reached the server: %d, %v; want 1", head, err)
	}
	// Settling's statements are counted as such: it looked, found nothing,
	// and moved the commit id.
	if n, moved := teststore.Statements(t, m, "settle_find_events"), teststore.Statements(t, m, "settle_move_commit_id"); n != 1 || moved != 1 {
		t.Errorf("settle_find_events %d, settle_move_commit_id %d; want 1 and 1", n, moved)
	}
}

// TestAnAppendWhoseLostRoundTripCannotBeSettledSaysSo: the round trip with
// COMMIT is lost at the caller's deadline, and settling cannot find out
// whether it committed (another session holds the log's lock past
// settleTimeout, as a stalled lost session would). The append fails as
// unavailable, and its error (which the server logs) must say what
// happened, not that the log's lock was not free in time: it was, and the
// COMMIT went out.
func TestAnAppendWhoseLostRoundTripCannotBeSettledSaysSo(t *testing.T) {
	t.Parallel()
	ctx, dsn, proxy, s, m, mine, ev := oneEventBehindProxy(t)
	lockLogPastProxy(ctx, t, dsn, proxy)
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	defer release()
	res, err := appendHeldPastItsDeadline(ctx, t, s, mine, ev, held)
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append whose lost round trip could not be settled: %+v, %v; want it unavailable", res, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "lock was not free") || !strings.Contains(msg, "whether it committed") {
		t.Errorf("append whose lost round trip could not be settled: %q; want it to say that whether it committed is unknown", msg)
	}
	// Settling's statements are counted as such: it waited for the lock.
	if n, found := teststore.Statements(t, m, "settle_lock_head"), teststore.Statements(t, m, "settle_find_events"); n != 1 || found != 0 {
		t.Errorf("settle_lock_head %d, settle_find_events %d; want 1 and 0", n, found)
	}
}

// TestAnAppendWhoseSettlingLosesItsOwnSessionIsSettledOnAnother: the round
// trip with COMMIT is lost at the caller's deadline, and settling's own
// session is killed while it waits for the log's lock (an operator's KILL,
// a tool that kills sessions waiting on locks). That session held nothing
// and committed nothing, yet settling gave up: the append was of unknown
// outcome, with 2 s of settling left and the database there. Settling must
// look again on another session, within its time: here it finds that the
// group did not commit (the proxy holds the round trip), and the append is
// answered as failed, not of unknown outcome.
func TestAnAppendWhoseSettlingLosesItsOwnSessionIsSettledOnAnother(t *testing.T) {
	t.Parallel()
	ctx, dsn, proxy, s, m, mine, ev := oneEventBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target()
	direct := otherProcessDB(t, cfg.FormatDSN())
	lock, err := direct.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	var lockID int64
	if err := lock.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&lockID); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	defer lock.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // released below, or at the end
	if _, err := lock.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// Kill settling's session once it waits for the lock, then free the lock.
	killed := killWhenWaiting(ctx, direct, lock, lockID, "info = ?", "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	defer release()
	res, err := appendHeldPastItsDeadline(ctx, t, s, mine, ev, held)
	if _, ok := <-killed; !ok {
		t.Fatalf("settling never waited for the log's lock (append: %+v, %v)", res, err)
	}
	if err == nil || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("append whose lost round trip had not reached the server, settling's first session killed: %+v, %v; "+
			"want it failed as not written, settled on another session, not of unknown outcome", res, err)
	}
	if n := teststore.Statements(t, m, "settle_find_events"); n != 1 {
		t.Errorf("settle_find_events %d; want 1: settling looked on another session", n)
	}
}

// oneEventBehindProxy opens a store on a database behind a fault proxy, for
// one test, and appends one event to a new stream, mine: the writer's own
// last commit, so that its next group may go in one round trip.
func oneEventBehindProxy(t *testing.T) (context.Context, string, *faultproxy.Proxy, *mysqlstore.Store, *metrics.Metrics, uuid.UUID, eventstore.NewEvent) {
	t.Helper()
	return oneEventBehindProxyWith(t, nil)
}

// oneEventBehindProxyWith is oneEventBehindProxy with the store opened with
// params added to its DSN (the DSN it returns has none of them).
func oneEventBehindProxyWith(t *testing.T, params map[string]string) (context.Context, string, *faultproxy.Proxy, *mysqlstore.Store, *metrics.Metrics, uuid.UUID, eventstore.NewEvent) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	opened := dsn
	if len(params) > 0 {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Params == nil {
			cfg.Params = map[string]string{}
		}
		maps.Copy(cfg.Params, params)
		opened = cfg.FormatDSN()
	}
	s, m := openCounted(t, opened)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	ev := eventstore.NewEvent{Type: "counted", Data: []byte(`{}`)}
	mine := uuid.New()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: mine, StreamType: "counter", Expected: eventstore.NoStream, Events: []eventstore.NewEvent{ev}}); err != nil {
		t.Fatalf("first append: %v", err)
	}
	return ctx, dsn, proxy, s, m, mine, ev
}

// lockLogPastProxy holds the log's lock until the test ends, as another
// process would, on a session of dsn's database that does not go through
// proxy (which may be holding the store's round trips).
func lockLogPastProxy(ctx context.Context, t *testing.T, dsn string, proxy *faultproxy.Proxy) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target()
	lock, err := otherProcessDB(t, cfg.FormatDSN()).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Rollback() }) //nolint:errcheck // only held
	if _, err := lock.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
}

// appendHeldPastItsDeadline appends ev to mine at version 2 with a deadline
// of 500 ms, and checks that the proxy held its round trip with COMMIT.
func appendHeldPastItsDeadline(ctx context.Context, t *testing.T, s *mysqlstore.Store, mine uuid.UUID, ev eventstore.NewEvent, held <-chan struct{}) (eventstore.AppendResult, error) {
	t.Helper()
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	res, err := s.Append(short, eventstore.AppendRequest{StreamID: mine, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev}})
	select {
	case <-held:
	default:
		t.Fatalf("the proxy never held the round trip with COMMIT (append: %+v, %v)", res, err)
	}
	return res, err
}

// TestAnAppendWhoseLostCommitCannotBeMadeDurableSaysItsOutcomeIsUnknown:
// settling finds that a lost COMMIT committed, but with the binary log off
// that commit is on disk only once a fence has flushed it, and the fence
// cannot run in time (another session holds its row). The append cannot be
// answered as written, nor as failed: it committed, and a crash may yet
// take it back. It must say that its outcome is unknown, as when settling
// fails, and not be reported as an append that simply did not go. (It
// failed now and then, answered as written at version 2: the server had
// stopped the cut round trip before COMMIT, settling rightly found it not
// committed, and the group written again was durable by its own COMMIT. It
// now tries again until the round trip it cuts committed, each try set
// aside checked: answered as written, as its stream holds it.)
func TestAnAppendWhoseLostCommitCannotBeMadeDurableSaysItsOutcomeIsUnknown(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s, m := openCounted(t, dsn)
	if !s.Fences() {
		t.Skip("the binary log is on: a commit is durable once visible, and settling needs no fence")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ev := eventstore.NewEvent{Type: "counted", Data: []byte(`{}`)}
	// Another session holds the fence's row: no fence can commit. (The
	// writer's own COMMITs need none: they are durable when they return.)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if _, err := holder.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	var stream uuid.UUID
	var res eventstore.AppendResult
	loseTheAnswerOfACommitThatRan(t, proxy, m, func() {
		stream = uuid.New()
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "counter", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{ev}}); err != nil {
			t.Fatalf("first append: %v", err)
		}
	}, func() {
		res, err = s.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{ev}})
	}, func() {
		// Written again, its own COMMIT durable: answered as written, at
		// version 2, with what the stream holds. (Read past the store,
		// whose reads wait for a fence that cannot run.)
		var ids []uuid.UUID
		var positions []int64
		rows, qerr := db.QueryContext(ctx, "SELECT event_id, position FROM events WHERE stream_id = ? ORDER BY stream_version", stream[:])
		if qerr != nil {
			t.Fatalf("read the stream after the cut: %v", qerr)
		}
		for rows.Next() {
			var id uuid.UUID
			var position int64
			if qerr := rows.Scan(&id, &position); qerr != nil {
				t.Fatalf("read the stream after the cut: %v", qerr)
			}
			ids, positions = append(ids, id), append(positions, position)
		}
		if qerr := rows.Err(); qerr != nil {
			t.Fatalf("read the stream after the cut: %v", qerr)
		}
		rows.Close()
		if len(ids) != 2 {
			t.Fatalf("%s, but the stream holds %d events (append: %+v, %v); want 2, the group's once", settledNotCommitted, len(ids), res, err)
		}
		if err != nil || res.Version != 2 || len(res.Events) != 1 || res.Duplicate || res.Events[0].ID != ids[1] || res.Events[0].Position != positions[1] {
			t.Fatalf("%s: the append was answered %+v, %v; the stream holds its event at version 2 (id %s, position %d), so it must be answered as written with it",
				settledNotCommitted, res, err, ids[1], positions[1])
		}
	})
	holder.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // the test's own lock
	st, serr := s.Stream(ctx, stream)
	if serr != nil || st.Version != 2 {
		t.Fatalf("settling found that the cut round trip committed, but the stream is %+v, %v (append: %v)", st, serr, err)
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append whose lost COMMIT committed but could not be made durable: %+v, %v; want it unavailable", res, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "whether it committed") {
		t.Errorf("append whose lost COMMIT committed but could not be made durable: %q; want it to say that whether it committed (durably) is unknown", msg)
	}
}
