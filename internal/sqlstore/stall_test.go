package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStalledDatabaseAnswersTheRequestsNotYetSentAtOnce: a MySQL server
// that stops answering while TCP stays up (SIGSTOP, a hung host, a network
// that drops what it carries; here, a proxy that passes nothing either
// way) made every append and every read wait its whole deadline (30 s over
// HTTP) before its 503, one after the other, though a ping knew within 2 s.
// Now the appends queued behind a group stuck in the database, the appends
// that come after, and the reads, are refused at once, while the database
// still does not answer, with ErrUnavailable, having sent nothing; the
// append stuck in the database keeps its usual care; no append told "not
// written" was written; and once the database answers again, appends and
// reads go through as before, by themselves.
func TestAStalledDatabaseAnswersTheRequestsNotYetSentAtOnce(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	ms := teststore.OpenMySQL(t, dsn)
	s := ms.Store
	// No stall begins yet, however long the ping under way waits: the
	// first append goes to the database, and stays stuck there.
	sqlstore.SetStallBound(s, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	appendTo := func(stream uuid.UUID, expected eventstore.ExpectedVersion) (uuid.UUID, error) {
		id := uuid.New()
		actx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		_, err := s.Append(actx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: expected,
			Events: []eventstore.NewEvent{{ID: id, Type: "happened", Data: []byte(`{}`)}}})
		return id, err
	}
	warm := uuid.New()
	if _, err := appendTo(warm, eventstore.NoStream); err != nil {
		t.Fatalf("append before the stall: %v", err)
	}

	type result struct {
		stream uuid.UUID
		err    error
		// stalled is the proxy's state as the call returned: a refusal
		// must come while the database still does not answer, not once
		// it answers again.
		stalled bool
	}
	proxy.Stall()
	stuck := make(chan result, 1)
	stuckStream := uuid.New()
	go func() {
		_, err := appendTo(stuckStream, eventstore.NoStream)
		stuck <- result{stuckStream, err, proxy.Stalled()}
	}()
	time.Sleep(200 * time.Millisecond) // a chance for its group to be sent and stuck (if not, it is refused as the others)

	const queued = 6
	results := make(chan result, queued)
	for range queued {
		go func() {
			stream := uuid.New()
			_, err := appendTo(stream, eventstore.NoStream)
			results <- result{stream, err, proxy.Stalled()}
		}()
	}
	time.Sleep(100 * time.Millisecond) // a chance for them to queue behind the stuck group
	sqlstore.SetStallBound(s, 100*time.Millisecond)

	var refused []uuid.UUID
	for range queued {
		r := <-results
		if !sqlstore.IsStall(r.err) || !errors.Is(r.err, eventstore.ErrUnavailable) || errors.Is(r.err, eventstore.ErrOutcomeUnknown) {
			t.Errorf("an append queued while the database does not answer: %v; want it refused at once, not sent, as the database does not answer", r.err)
		}
		if !r.stalled {
			t.Errorf("an append queued during the stall returned once the database answered again (%v); want it answered during the stall", r.err)
		}
		refused = append(refused, r.stream)
	}
	if !sqlstore.Stalled(s) {
		t.Fatal("the store does not hold its database stalled after refusing appends for it")
	}
	// An append and reads that come now are refused at once too.
	later := uuid.New()
	if _, err := appendTo(later, eventstore.NoStream); !sqlstore.IsStall(err) || !proxy.Stalled() {
		t.Errorf("an append sent while the database is known not to answer: %v; want it refused at once as the database does not answer", err)
	}
	refused = append(refused, later)
	if _, err := s.Stream(ctx, warm); !sqlstore.IsStall(err) || !errors.Is(err, eventstore.ErrUnavailable) || !proxy.Stalled() {
		t.Errorf("a read of a stream while the database does not answer: %v; want it refused at once as the database does not answer", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); !sqlstore.IsStall(err) || !proxy.Stalled() {
		t.Errorf("a read of the log while the database does not answer: %v; want it refused at once as the database does not answer", err)
	}
	// The readiness probe says so at once too, rather than after its own
	// wait for an answer.
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	if err := s.Ping(pctx); !sqlstore.IsStall(err) || !errors.Is(err, eventstore.ErrUnavailable) || !proxy.Stalled() {
		t.Errorf("a ping of the store while its database does not answer: %v; want the stall's refusal at once", err)
	}
	pcancel()
	select {
	case r := <-stuck:
		if !sqlstore.IsStall(r.err) {
			t.Errorf("the append sent before the stall was known returned during it: %v; want it still waiting (or refused unsent)", r.err)
		}
		if r.err != nil {
			refused = append(refused, r.stream)
		}
		stuck <- result{stream: uuid.Nil}
	default:
	}

	proxy.Resume()
	for sqlstore.Stalled(s) {
		select {
		case <-ctx.Done():
			t.Fatal("the store still holds its database stalled after it answers again")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r := <-stuck; r.stream != uuid.Nil {
		if r.err != nil && !errors.Is(r.err, eventstore.ErrOutcomeUnknown) {
			// Told not written: it must not be there.
			refused = append(refused, r.stream)
		}
		t.Logf("the append sent before the stall was known, once the database answered again: %v", r.err)
	}
	// Every append told "not written" was not: its stream does not exist.
	for _, stream := range refused {
		if _, err := s.Stream(ctx, stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("stream %s, whose append was told it was not written: read %v; want it not found", stream, err)
		}
	}
	// Once the database answers, appends and reads go through by themselves.
	after := uuid.New()
	if _, err := appendTo(after, eventstore.NoStream); err != nil {
		t.Fatalf("an append once the database answers again: %v", err)
	}
	if _, err := appendTo(warm, eventstore.Exactly(1)); err != nil {
		t.Fatalf("an append to the stream written before the stall, once the database answers again: %v", err)
	}
	if st, err := s.Stream(ctx, warm); err != nil || st.Version != 2 {
		t.Fatalf("a read once the database answers again: %+v, %v; want the stream at version 2", st, err)
	}
}

// waitUntil waits until cond holds, failing the test if it does not within
// a minute (a guard against a hang, not a bound on how soon).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// TestReadsWaitingForAConnectionWhenAStallBeginsAreRefusedAtOnce: reads
// that wait for a connection of the read pool, each in use by a read stuck
// in a database that does not answer, were not yet begun, but they were
// checked for a stall only before that wait: once it began they waited
// out their deadline (30 s) all the same, then told "the database did not
// answer". Now they are refused when the stall begins, while the database
// still does not answer, having sent nothing; the reads already sent are
// answered then too, and every read goes through once the database
// answers again.
func TestReadsWaitingForAConnectionWhenAStallBeginsAreRefusedAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, proxy, stream := streamBehindProxy(ctx, t)
	pool := sqlstore.ReadsPool(s)
	size := pool.Stats().MaxOpenConnections
	if size <= 0 {
		t.Fatalf("the read pool has no bound (%d): no read waits for a connection", size)
	}
	// Every connection of the pool made, and idle: each of the reads that
	// take them below is sent at once.
	fillPool(ctx, t, pool, size)

	proxy.Stall()
	// Reads that take every connection of the pool, sent and stuck in the
	// database.
	sent := make(chan error, size)
	for range size {
		go func() {
			_, err := s.Stream(ctx, stream)
			sent <- err
		}()
	}
	waitUntil(t, "the reads sent to take every connection", func() bool { return pool.Stats().InUse == size })
	waits := pool.Stats().WaitCount
	type result struct {
		err     error
		stalled bool // the proxy's state as the read returned
	}
	const waiting = 3
	results := make(chan result, waiting)
	for range waiting {
		go func() {
			_, err := s.Stream(ctx, stream)
			results <- result{err, proxy.Stalled()}
		}()
	}
	waitUntil(t, "the reads to wait for a connection", func() bool { return pool.Stats().WaitCount >= waits+waiting })
	select {
	case r := <-results:
		t.Fatalf("a read waiting for a connection returned before any stall began: %v", r.err)
	default:
	}
	sqlstore.SetStallBound(s, 100*time.Millisecond)

	for range waiting {
		r := <-results
		if !sqlstore.IsStall(r.err) || !errors.Is(r.err, eventstore.ErrUnavailable) {
			t.Errorf("a read waiting for a connection when the stall began: %v; want it refused as the database does not answer, nothing sent", r.err)
		}
		if !r.stalled {
			t.Errorf("a read waiting for a connection when the stall began returned once the database answered again (%v); want it answered during the stall", r.err)
		}
	}
	// The reads sent before it are answered as it began too
	// (TestReadsUnderWayWhenAStallBeginsAreAnsweredThen).
	for range size {
		if err := <-sent; !sqlstore.IsStall(err) {
			t.Errorf("a read sent before the stall: %v; want it answered as the database does not answer", err)
		}
	}

	resumeAndReadAgain(ctx, t, s, proxy, stream)
}

// streamBehindProxy opens a MySQL store behind a fault proxy, its stall
// bound an hour (no stall yet, however long a ping waits), and appends one
// event to a new stream, whose id it returns.
func streamBehindProxy(ctx context.Context, t *testing.T) (*sqlstore.Store, *faultproxy.Proxy, uuid.UUID) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := teststore.OpenMySQL(t, dsn).Store
	sqlstore.SetStallBound(s, time.Hour)
	stream := uuid.New()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append before the stall: %v", err)
	}
	return s, proxy, stream
}

// resumeAndReadAgain resumes the proxy, waits for the store to see the
// database answer again, and fails the test unless the stream
// (streamBehindProxy's) then reads at version 1.
func resumeAndReadAgain(ctx context.Context, t *testing.T, s *sqlstore.Store, proxy *faultproxy.Proxy, stream uuid.UUID) {
	t.Helper()
	proxy.Resume()
	waitUntil(t, "the store to see the database answer again", func() bool { return !sqlstore.Stalled(s) })
	if st, err := s.Stream(ctx, stream); err != nil || st.Version != 1 {
		t.Fatalf("a read once the database answers again: %+v, %v; want the stream at version 1", st, err)
	}
}

// TestReadsUnderWayWhenAStallBeginsAreAnsweredThen: a read sent before the
// stall watch saw the database stop answering (it sees it within some
// 10 s) waited for the database's answer or its deadline (30 s over HTTP;
// a crash tester's took 22.8 s, and another 503 at 30 s), while the reads
// begun after were answered 503 at once. A read is safe to fail and to
// retry: those under way (a stream's, answered by one row; a page of the
// log, by its rows) are answered when the stall begins, while the
// database still does not answer, with ErrUnavailable, never sent again;
// and once it answers again, reads go through as before.
func TestReadsUnderWayWhenAStallBeginsAreAnsweredThen(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, proxy, stream := streamBehindProxy(ctx, t)
	pool := sqlstore.ReadsPool(s)
	const reads = 3
	fillPool(ctx, t, pool, reads)

	proxy.Stall()
	type result struct {
		what    string
		err     error
		stalled bool // the proxy's state as the read returned
	}
	results := make(chan result, reads)
	go func() {
		_, err := s.Stream(ctx, stream)
		results <- result{"a stream's read", err, proxy.Stalled()}
	}()
	go func() {
		_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
		results <- result{"a page of the log", err, proxy.Stalled()}
	}()
	go func() {
		// A stream subscription's start from a version reads this.
		_, err := s.EventPosition(ctx, stream, 1)
		results <- result{"an event's position", err, proxy.Stalled()}
	}()
	waitUntil(t, "the reads sent", func() bool { return pool.Stats().InUse == reads })
	select {
	case r := <-results:
		t.Fatalf("%s returned before any stall began: %v", r.what, r.err)
	default:
	}
	sqlstore.SetStallBound(s, 100*time.Millisecond)

	for range reads {
		r := <-results
		if !sqlstore.IsStall(r.err) || !errors.Is(r.err, eventstore.ErrUnavailable) {
			t.Errorf("%s under way when the stall began: %v; want it answered as the database does not answer", r.what, r.err)
		}
		if !r.stalled {
			t.Errorf("%s under way when the stall began returned once the database answered again (%v); want it answered as the stall began", r.what, r.err)
		}
	}

	resumeAndReadAgain(ctx, t, s, proxy, stream)
	page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	n := 0
	for _, ierr := range page.Events {
		if err == nil {
			err = ierr
		}
		n++
	}
	if err != nil || n != 1 {
		t.Fatalf("a page of the log once the database answers again: %d events, %v; want 1", n, err)
	}
}

// TestReadsWhoseConnectionsTheServerEndedGoAgainOnFreshOnes: a read takes
// its connection itself where a stall watch is (so that a wait for one
// ends when a stall begins); a connection the server ended while it was
// idle (wait_timeout, a KILL, a restart) is still found gone and replaced,
// as database/sql does, and no read fails for it.
func TestReadsWhoseConnectionsTheServerEndedGoAgainOnFreshOnes(t *testing.T) {
	t.Parallel()
	dsn, _ := mysqltest.NewDatabaseBehindProxy(t)
	s := teststore.OpenMySQL(t, dsn).Store
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream := uuid.New()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	pool := sqlstore.ReadsPool(s)
	size := pool.Stats().MaxOpenConnections
	fillPool(ctx, t, pool, size)
	if n := killSessions(t, dsn, " AND command = 'Sleep'"); n < size {
		t.Fatalf("found %d idle sessions of the store; want at least the read pool's %d", n, size)
	}
	errs := make(chan error, size)
	for range size {
		go func() {
			_, err := s.Stream(ctx, stream)
			errs <- err
		}()
	}
	for range size {
		if err := <-errs; err != nil {
			t.Errorf("a read on a connection the server ended: %v; want it read on a fresh one", err)
		}
	}
}

// TestARetryOfAStoredBatchIsAnsweredWhenAStallBeginsInItsDurabilityWait:
// a retry of a batch the log holds (written by another instance, so this
// one does not know it durable) waits, with the binary log off, for the
// durability fence before it is answered as stored. A stall that began in
// that wait left it waiting its whole deadline, though nothing can confirm
// durability while the database does not answer. Now it is answered when
// the stall begins, as when the wait fails: stored, its durability not
// confirmed, of unknown outcome (never "not written"), while the database
// still does not answer; and answered as stored once it answers again.
func TestARetryOfAStoredBatchIsAnsweredWhenAStallBeginsInItsDurabilityWait(t *testing.T) {
	t.Parallel()
	ms, other, proxy := fencedBehindProxy(t, "a retry's")
	s := ms.Store
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}}
	stored, err := other.Append(ctx, req)
	if err != nil {
		t.Fatalf("append on the other instance: %v", err)
	}

	r, release := stallAtTheFence(t, s, proxy, "the retry", func(ctx context.Context) error {
		_, err := s.Append(ctx, req)
		return err
	})
	t.Logf("the retry, its durability wait met by a stall: %v", r.err)
	if !errors.Is(r.err, eventstore.ErrOutcomeUnknown) || !errors.Is(r.err, eventstore.ErrUnavailable) || !errors.Is(r.err, eventstore.ErrDurabilityUnconfirmed) ||
		sqlstore.IsStall(r.err) {
		t.Errorf("a retry of a stored batch whose durability wait met a stall: %v; want it stored, its durability not confirmed (outcome unknown), never a refusal", r.err)
	}
	if errors.Is(r.err, context.DeadlineExceeded) || !r.stalled {
		t.Errorf("a retry of a stored batch whose durability wait met a stall was answered at its deadline or once the database answered again (%v); want it answered when the stall began", r.err)
	}

	proxy.Resume()
	release()
	waitUntil(t, "the store to see the database answer again", func() bool { return !sqlstore.Stalled(s) })
	res, err := s.Append(ctx, req)
	if err != nil || !res.Duplicate || res.Version != stored.Version {
		t.Fatalf("the retry again once the database answers: %+v, %v; want it answered as the stored batch, version %d", res, err, stored.Version)
	}
}

// TestAReadWhoseDurabilityFenceMeetsAStallIsAnsweredWhenItBegins: with the
// binary log off, a read of what this instance does not know durable (an
// append of another instance's) writes the durability fence before it
// answers. A stall that began while the fence was on its way left the read
// waiting its whole deadline, though nothing can confirm durability while
// the database does not answer. Now it is answered 503 when the stall
// begins, while the database still does not answer; and the read goes
// through once it answers again.
func TestAReadWhoseDurabilityFenceMeetsAStallIsAnsweredWhenItBegins(t *testing.T) {
	t.Parallel()
	ms, other, proxy := fencedBehindProxy(t, "a read's")
	s := ms.Store
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream := uuid.New()
	if _, err := other.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append on the other instance: %v", err)
	}

	r, release := stallAtTheFence(t, s, proxy, "the read", func(ctx context.Context) error {
		_, err := s.Stream(ctx, stream)
		return err
	})
	t.Logf("the read, its durability fence met by a stall: %v", r.err)
	if !errors.Is(r.err, eventstore.ErrUnavailable) || errors.Is(r.err, context.DeadlineExceeded) || !r.stalled {
		t.Errorf("a read whose durability fence met a stall: %v (the database still silent: %t); want it unavailable when the stall began, not at its deadline", r.err, r.stalled)
	}

	proxy.Resume()
	release()
	waitUntil(t, "the store to see the database answer again", func() bool { return !sqlstore.Stalled(s) })
	if st, err := s.Stream(ctx, stream); err != nil || st.Version != 1 {
		t.Fatalf("the read again once the database answers: %+v, %v; want the stream at version 1", st, err)
	}
}

// TestAnAppendWaitingForAWriterConnectionWhenAStallBeginsIsNotWritten: a
// group whose writer connection is being made (the pool's idle sessions
// ended by the server, a new one dialled to a server that then says
// nothing) had sent nothing, but waited for that connection until its
// callers' deadline when a stall began. Now its appends are refused when
// the stall begins, not written, while the database still does not
// answer; and appends go through once it answers again.
func TestAnAppendWaitingForAWriterConnectionWhenAStallBeginsIsNotWritten(t *testing.T) {
	t.Parallel()
	// A stream's first append goes in one round trip, planned from what
	// the writer knows (guarded.go); one to a stream it does not know, on
	// any version, reads first (begin).
	for _, tc := range []struct {
		name     string
		expected eventstore.ExpectedVersion
	}{{"in one round trip", eventstore.NoStream}, {"reading first", eventstore.Any}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			appendWaitingForAWriterConnectionWhenAStallBegins(t, tc.expected)
		})
	}
}

func appendWaitingForAWriterConnectionWhenAStallBegins(t *testing.T, expected eventstore.ExpectedVersion) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := teststore.OpenMySQL(t, dsn).Store
	sqlstore.SetStallBound(s, time.Hour) // no stall yet, however long a ping waits
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	appendTo := func(stream uuid.UUID) error {
		actx, cancel := context.WithTimeout(ctx, 40*time.Second)
		defer cancel()
		_, err := s.Append(actx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: expected,
			Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}})
		return err
	}
	if err := appendTo(uuid.New()); err != nil {
		t.Fatalf("append before the stall: %v", err)
	}
	// The server ends every idle session of the store's: the next group
	// finds its connection gone, and makes another.
	killSessions(t, dsn, "")
	waitUntil(t, "the killed sessions to be gone", func() bool {
		var n int
		check, err := sql.Open("mysql", strings.Replace(dsn, proxy.Addr(), proxy.Target(), 1))
		if err != nil {
			return false
		}
		defer check.Close()
		err = check.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()").Scan(&n)
		return err == nil && n == 0
	})

	proxy.Stall()
	type result struct {
		stream  uuid.UUID
		err     error
		stalled bool // the proxy's state as the call returned
	}
	results := make(chan result, 1)
	stream := uuid.New()
	go func() {
		err := appendTo(stream)
		results <- result{stream, err, proxy.Stalled()}
	}()
	writes := sqlstore.WritesPool(s)
	waitUntil(t, "the group to wait for a connection being made", func() bool { return writes.Stats().InUse > 0 })
	sqlstore.SetStallBound(s, 100*time.Millisecond)

	r := <-results
	t.Logf("the append, its connection being made as the stall began: %v", r.err)
	if !sqlstore.IsStall(r.err) || !errors.Is(r.err, eventstore.ErrUnavailable) || errors.Is(r.err, eventstore.ErrOutcomeUnknown) || !r.stalled {
		t.Errorf("an append whose group waited for a connection when the stall began: %v (the database still silent: %t); want it refused then, not written", r.err, r.stalled)
	}

	proxy.Resume()
	waitUntil(t, "the store to see the database answer again", func() bool { return !sqlstore.Stalled(s) })
	if _, err := s.Stream(ctx, stream); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("the stream of the append told it was not written: read %v; want it not found", err)
	}
	if err := appendTo(uuid.New()); err != nil {
		t.Fatalf("an append once the database answers again: %v", err)
	}
}

// fenceResult is what a call whose durability fence met a stall returned,
// and whether the database was still silent then.
type fenceResult struct {
	err     error
	stalled bool // the proxy's state as the call returned
}

// stallAtTheFence runs call (given 40 s), holds its durability fence on
// its way to the server, stalls the database there, with s's stall bound
// made short, and returns what call returned; release lets the fence go
// (after proxy.Resume).
func stallAtTheFence(t *testing.T, s *sqlstore.Store, proxy *faultproxy.Proxy, what string, call func(context.Context) error) (fenceResult, func()) {
	t.Helper()
	held, release := proxy.HoldAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("durability_fence")) })
	results := make(chan fenceResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
		defer cancel()
		err := call(ctx)
		results <- fenceResult{err, proxy.Stalled()}
	}()
	select {
	case <-held: // its fence, on its way to the server
	case r := <-results:
		t.Fatalf("%s was answered before its durability fence was sent: %v", what, r.err)
	}
	proxy.Stall()
	sqlstore.SetStallBound(s, 100*time.Millisecond)
	return <-results, release
}

// killSessions ends, from an admin session of its own, every session of
// dsn's database the processlist shows (and the condition where adds, an
// SQL "AND …"), as a server that ends them would, and returns how many.
func killSessions(t *testing.T, dsn, where string) int {
	t.Helper()
	ctx := t.Context()
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("open an admin session: %v", err)
	}
	defer admin.Close()
	rows, err := admin.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE db = DATABASE()"+where+" AND id <> CONNECTION_ID()")
	if err != nil {
		t.Fatalf("list the store's sessions: %v", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("scan a session's id: %v", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Logf("kill session %d: %v", id, err)
		}
	}
	// KILL returns before the session's thread has closed its socket: a
	// read sent at once could find it open, and meet its end half-way (a
	// CI run under load did). Once the server lists none of them, each has
	// closed its end.
	waitUntil(t, "the killed sessions gone", func() bool {
		var left int
		list := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ids)), ","), "[]")
		return len(ids) == 0 || admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE id IN ("+list+")").Scan(&left) == nil && left == 0
	})
	return len(ids)
}

// TestSettlingALostCommitEndsWhenAStallBegins: an append's round trip with
// COMMIT is lost (held on its way until after its caller's deadline), and
// settling, which looks whether it committed, waits for the log's lock
// (another session holds it) when the database stops answering. Settling
// waited on until its own time was up (settleTimeout) though the stall
// watch knew that nothing could be found out until the database answers.
// Now settling ends when the stall begins, and the append is answered of
// unknown outcome (never "not written", which would invite a duplicate),
// its error saying that the database stopped answering while settling
// looked. Settling is given a minute here, so that only the stall can have
// ended it.
func TestSettlingALostCommitEndsWhenAStallBegins(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	direct := strings.Replace(dsn, proxy.Addr(), proxy.Target(), 1)
	s := teststore.OpenMySQL(t, dsn).Store
	sqlstore.SetStallBound(s, time.Hour) // no stall yet, however long a ping waits
	sqlstore.SetSettleTimeout(s, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stream := uuid.New()
	appendOne := func(ctx context.Context, expected eventstore.ExpectedVersion) error {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: expected,
			Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
		return err
	}
	if err := appendOne(ctx, eventstore.NoStream); err != nil {
		t.Fatalf("append before the stall: %v", err)
	}

	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	released := false
	defer func() {
		if !released {
			proxy.Resume()
			release()
		}
	}()
	type result struct {
		err     error
		stalled bool // the proxy's state as the call returned
	}
	results := make(chan result, 1)
	go func() {
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		err := appendOne(short, eventstore.Exactly(1))
		results <- result{err, proxy.Stalled()}
	}()
	select {
	case <-held: // its round trip with COMMIT, held on its way to the server
	case r := <-results:
		t.Fatalf("the append was answered before its round trip with COMMIT was sent: %v", r.err)
	}
	// Another session holds the log's lock, past the proxy: settling,
	// which takes it to look, waits.
	admin, err := sql.Open("mysql", direct)
	if err != nil {
		t.Fatalf("open an admin session: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	lock, err := admin.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("begin the lock holder's transaction: %v", err)
	}
	defer lock.Rollback() //nolint:errcheck // only held
	if _, err := lock.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatalf("take the log's lock: %v", err)
	}
	waitUntil(t, "settling to wait for the log's lock", func() bool {
		var n int
		err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND info = ?",
			"SELECT position FROM log_head WHERE id = 1 FOR UPDATE").Scan(&n)
		return err == nil && n > 0
	})

	proxy.Stall()
	sqlstore.SetStallBound(s, 100*time.Millisecond)
	var r result
	select {
	case r = <-results:
	case <-ctx.Done():
		t.Fatal("the append whose settling met a stall was never answered")
	}
	t.Logf("the append, its settling met by a stall: %v", r.err)
	if !errors.Is(r.err, eventstore.ErrOutcomeUnknown) || !errors.Is(r.err, eventstore.ErrUnavailable) || sqlstore.IsStall(r.err) {
		t.Errorf("an append whose lost COMMIT was being settled when the database stopped answering: %v; want it of unknown outcome, never not written nor refused", r.err)
	}
	if !strings.Contains(fmt.Sprint(r.err), "the database stopped answering while settling looked") || !r.stalled {
		t.Errorf("an append whose settling met a stall: %v (the database still silent: %t); want settling ended by the stall, while the database was still silent, not by its own time", r.err, r.stalled)
	}

	proxy.Resume()
	lock.Rollback() //nolint:errcheck // let the held round trip and settling's like go
	release()
	released = true
	waitUntil(t, "the store to see the database answer again", func() bool { return !sqlstore.Stalled(s) })
	st, err := s.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("read the stream once the database answers: %v", err)
	}
	if err := appendOne(ctx, eventstore.Exactly(st.Version)); err != nil {
		t.Fatalf("an append once the database answers again (stream at version %d): %v", st.Version, err)
	}
}

// TestTheMySQLStoresPingSaysTheStallWithoutAReadReplica: with no read
// replica (the default), the MySQL store's Ping (what /readyz calls) left
// out the embedded store's Ping, and with it the stall watch: during a
// stall /readyz waited its own time and said "context deadline exceeded",
// and while the watch held the database stalled and the primary's sessions
// answered (a stall outliving an outage), it said ready while every append
// and every read was refused (hostile review). It says the stall now, at
// once, sending nothing.
func TestTheMySQLStoresPingSaysTheStallWithoutAReadReplica(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	ms := teststore.OpenMySQL(t, dsn)
	sqlstore.SetStallBound(ms.Store, 100*time.Millisecond)
	proxy.Stall()
	defer proxy.Resume()
	waitUntil(t, "a stall", func() bool { return sqlstore.Stalled(ms.Store) })
	// The context is a guard against a hang: a Ping that waits for the
	// database fails with it, not with the stall's refusal.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ms.Ping(ctx); !sqlstore.IsStall(err) || !errors.Is(err, eventstore.ErrUnavailable) || !proxy.Stalled() {
		t.Errorf("the MySQL store's Ping while its stall watch holds the database stalled: %v; want the stall's refusal at once", err)
	}
}

// TestAReadTimeoutUnderTheBoundDoesNotHideAStall: the stall watch's
// connections were made with the DSN's readTimeout; one under the bound
// (here 2 s, the bound 4 s) ended a ping to a server that answers nothing
// with the driver's "invalid connection", which the watch took for a
// server that failed fast: the stall never began (hostile review). The
// watch's connections wait on its own bounds now.
func TestAReadTimeoutUnderTheBoundDoesNotHideAStall(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	teststore.OpenMySQL(t, dsn) // migrates, so that the store below opens with its short readTimeout only
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ReadTimeout = 2 * time.Second // not less: the open's own queries on a busy server
	ms := teststore.OpenMySQL(t, cfg.FormatDSN())
	sqlstore.SetStallBound(ms.Store, 4*time.Second)
	proxy.Stall()
	defer proxy.Resume()
	waitUntil(t, "a stall of a database that answers nothing, the DSN's readTimeout under the bound", func() bool { return sqlstore.Stalled(ms.Store) })
	proxy.Resume()
	waitUntil(t, "the stall's end once the database answers", func() bool { return !sqlstore.Stalled(ms.Store) })
}

// fencedBehindProxy opens a MySQL store behind a fault proxy, its stall
// bound an hour (no stall yet, however long a ping waits), and another
// instance's store on the same database not behind it; it skips the test where the binary log is on, where what (a retry's,
// a read's) durability needs no fence.
func fencedBehindProxy(t *testing.T, what string) (ms *mysqlstore.Store, other *mysqlstore.Store, proxy *faultproxy.Proxy) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	cfg.Addr = proxy.Target()
	other = teststore.OpenMySQL(t, cfg.FormatDSN()) // another instance, not behind the proxy
	ms = teststore.OpenMySQL(t, dsn)
	sqlstore.SetStallBound(ms.Store, time.Hour)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open an admin session: %v", err)
	}
	defer admin.Close()
	var logBin int
	if err := admin.QueryRowContext(t.Context(), "SELECT @@log_bin").Scan(&logBin); err != nil {
		t.Fatalf("read log_bin: %v", err)
	}
	if logBin != 0 {
		t.Skip("the binary log is on: " + what + " durability needs no fence")
	}
	return ms, other, proxy
}

// fillPool makes size connections of pool, the read pool, and puts them
// back: each is then there, idle, for the next read to take at once.
func fillPool(ctx context.Context, t *testing.T, pool *sql.DB, size int) {
	t.Helper()
	conns := make([]*sql.Conn, size)
	for i := range conns {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatalf("take connection %d of the read pool: %v", i, err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		c.Close()
	}
}
