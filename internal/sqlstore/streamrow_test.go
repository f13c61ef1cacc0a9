package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStreamWhoseRowIsMissingIsDamageNotANewStream: a stream's events
// whose row of streams is gone (an operator's bad restore, a DELETE by
// hand) read as no stream at all. An append with If-None-Match: * (or any
// version) was planned as the stream's first, met its events on the unique
// key, and answered a 500; one that expected the stream's version was told
// the stream is at 0; a read said 404 while the log held the events. Each
// is a 503 of damage now (ErrUnavailable and ErrDamaged) that names the
// missing row of streams, writes nothing, and leaves other streams alone.
// Both stores.
func TestAStreamWhoseRowIsMissingIsDamageNotANewStream(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		ctx := context.Background()
		store := k.Open(t)
		id := uuid.New()
		stored := []eventstore.NewEvent{{ID: uuid.New(), Type: "X", Data: []byte(`{}`)}, {ID: uuid.New(), Type: "X", Data: []byte(`{}`)}}
		if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: stored}); err != nil {
			t.Fatal(err)
		}
		k.Exec(t, store, "DELETE FROM streams WHERE stream_id = ?", id[:])
		if k.OpenAgain != nil {
			// Another process: its writer knows nothing of the stream from
			// a commit of its own, and reads it.
			store = k.OpenAgain(t, store)
		}
		head, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		damaged := func(t *testing.T, what string, err error) {
			t.Helper()
			if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, eventstore.ErrDamaged) || !strings.Contains(err.Error(), "streams") {
				t.Errorf("%s, the stream's row of streams missing: %v; want ErrUnavailable and ErrDamaged, naming the table streams", what, err)
			}
		}
		for name, expected := range map[string]eventstore.ExpectedVersion{
			"no stream (If-None-Match: *)": eventstore.NoStream, "any": eventstore.Any,
			"stream exists": eventstore.StreamExists, "exactly 2": eventstore.Exactly(2), "exactly 1": eventstore.Exactly(1),
		} {
			_, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Expected: expected,
				Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}})
			damaged(t, "an append expecting "+name, err)
		}
		_, err = store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: stored})
		damaged(t, "a retry of the stream's stored batch", err)
		_, err = store.Stream(ctx, id)
		damaged(t, "a read of the stream", err)
		_, err = store.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
		damaged(t, "a read of the stream's events", err)
		if now, herr := store.Head(ctx); herr != nil || now != head {
			t.Fatalf("the log's head after the refused appends: %d, %v; want %d: nothing written", now, herr, head)
		}
		// The mend the error gives makes the row again, from the stream's
		// first event: the stream reads and takes appends as before.
		_, mend, ok := strings.Cut(err.Error(), "mend it with ")
		if !ok {
			t.Fatalf("the error says no mend: %v", err)
		}
		k.Exec(t, store, mend)
		if st, err := store.Stream(ctx, id); err != nil || st.Type != "t" || st.Version != 2 {
			t.Fatalf("the stream after the mend: %+v, %v; want type t at version 2", st, err)
		}
		if res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2),
			Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}}); err != nil || res.Version != 3 {
			t.Fatalf("an append expecting version 2 after the mend: %+v, %v; want version 3", res, err)
		}
		// A healthy stream is not held up by the damaged one.
		if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
			t.Fatalf("an append to another stream: %v", err)
		}
	})
}

// TestAStreamRowDeletedWhileItsWriterKnowsTheStreamIsDamageOnceMet: the
// writer that last wrote a stream plans its next append from what its own
// commit left (guarded.go), in one round trip with no read of the stream.
// Its row of streams deleted by hand meanwhile (log_head untouched), that
// writer still appended (201 at version 3) while every read, and every
// other process's append, answered the damage. Once the damage is met, by
// a read of the stream or an append to it, through this process or
// another, the same append is refused as damage by every process, and
// writes nothing. Both stores, and on MySQL both guards.
func TestAStreamRowDeletedWhileItsWriterKnowsTheStreamIsDamageOnceMet(t *testing.T) {
	t.Parallel()
	forEachGuard(t, func(t *testing.T, k teststore.Kind, open func(t *testing.T) (eventstore.Store, *metrics.Metrics)) {
		meets := map[string]func(t *testing.T, here eventstore.Store, id uuid.UUID) error{
			"a read of the stream here": func(t *testing.T, here eventstore.Store, id uuid.UUID) error {
				_, err := here.Stream(context.Background(), id)
				return err
			},
		}
		if k.OpenAgain != nil {
			meets["a read of the stream's events through another process"] = func(t *testing.T, here eventstore.Store, id uuid.UUID) error {
				there := k.OpenAgain(t, here)
				_, err := there.ReadStream(context.Background(), id, eventstore.ReadStreamOptions{})
				sqlstore.WaitSnapshotDrops(there.(*mysqlstore.Store).Store) // the move of the commit id runs in the background
				return err
			}
			meets["an append to the stream through another process"] = func(t *testing.T, here eventstore.Store, id uuid.UUID) error {
				there := k.OpenAgain(t, here)
				_, err := there.Append(context.Background(), eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2),
					Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}})
				sqlstore.WaitSnapshotDrops(there.(*mysqlstore.Store).Store)
				return err
			}
		}
		for name, meet := range meets {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				store, m := open(t)
				id, other := uuid.New(), uuid.New()
				for _, s := range []uuid.UUID{id, other} {
					appendTwo(t, store, s)
				}
				k.Exec(t, store, "DELETE FROM streams WHERE stream_id = ?", id[:])
				if err := meet(t, store, id); !isRowMissing(err) {
					t.Fatalf("%s, its row of streams deleted: %v; want ErrUnavailable and ErrDamaged, naming the table streams", name, err)
				}
				head, err := store.Head(ctx)
				if err != nil {
					t.Fatal(err)
				}
				sent := teststore.Statements(t, m, "guard_head")
				res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "t", Expected: eventstore.Exactly(2),
					Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}})
				if !isRowMissing(err) {
					t.Errorf("an append, by the writer that wrote the stream last, to a stream whose row of streams was deleted "+
						"after it wrote it, once %s met the damage: %+v, %v; want ErrUnavailable and ErrDamaged, naming the table streams", name, res, err)
				}
				if name == "a read of the stream here" {
					// The writer's own snapshot goes at once, whatever
					// becomes of the move of the commit id.
					readFirst(t, k, m, sent)
				} else {
					triedGuarded(t, k, m, sent)
				}
				if now, herr := store.Head(ctx); herr != nil || now != head {
					t.Fatalf("the log's head after the refused append: %d, %v; want %d: nothing written", now, herr, head)
				}
				// Another stream the writer knows is not held up by the damaged one.
				if res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: other, Expected: eventstore.Exactly(2),
					Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}}); err != nil || res.Version != 3 {
					t.Fatalf("an append to another stream: %+v, %v; want version 3", res, err)
				}
			})
		}
	})
}

// isRowMissing reports whether err is the damage of a stream's row of
// streams missing.
func isRowMissing(err error) bool {
	return errors.Is(err, eventstore.ErrUnavailable) && errors.Is(err, eventstore.ErrDamaged) && strings.Contains(err.Error(), "streams")
}

// forEachGuard runs fn for each kind of store, with open, which opens a
// fresh counted store of that kind; on MySQL once with each guard of a
// group sent in one round trip: the UPDATE of log_head (MariaDB's, the
// store's choice here) and the locking read (MySQL's).
func forEachGuard(t *testing.T, fn func(t *testing.T, k teststore.Kind, open func(t *testing.T) (eventstore.Store, *metrics.Metrics))) {
	t.Helper()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		guards := map[string]func(eventstore.Store){"": func(eventstore.Store) {}}
		if k.Name == teststore.MySQL.Name {
			guards = map[string]func(eventstore.Store){
				"guard UPDATE":       func(eventstore.Store) {},
				"guard locking read": func(s eventstore.Store) { sqlstore.GuardWithLockingRead(s.(*mysqlstore.Store).Store) },
			}
		}
		for name, guard := range guards {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				fn(t, k, func(t *testing.T) (eventstore.Store, *metrics.Metrics) {
					t.Helper()
					m := metrics.New("test")
					store := teststore.OpenCounted(t, k, m)
					guard(store)
					return store, m
				})
			})
		}
	})
}

// appendTwo appends two events to a new stream id of type t.
func appendTwo(t *testing.T, store eventstore.Store, id uuid.UUID) {
	t.Helper()
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}, {Type: "X", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
}

// triedGuarded fails the test if, on MySQL, no group went in one round
// trip since the guards counted were sent: the test would prove nothing.
func triedGuarded(t *testing.T, k teststore.Kind, m *metrics.Metrics, sent int) {
	t.Helper()
	if k.Name == teststore.MySQL.Name && teststore.Statements(t, m, "guard_head") == sent {
		t.Errorf("the append did not try the one round trip planned from the writer's last commit: the test proves nothing")
	}
}

// readFirst fails the test if, on MySQL, a group went in one round trip
// since the guards counted were sent: a read through the writer's process
// that met the damage drops its snapshot before its next group.
func readFirst(t *testing.T, k teststore.Kind, m *metrics.Metrics, sent int) {
	t.Helper()
	if k.Name == teststore.MySQL.Name && teststore.Statements(t, m, "guard_head") != sent {
		t.Errorf("the append went in one round trip planned from the writer's snapshot after a read through its process met the damage; want it read first")
	}
}

// TestAStreamsLastEventDeletedWhileItsWriterKnowsTheStreamIsAppendedToAsItIsOnceRead:
// the same, with the stream's last event deleted by hand (log_head
// untouched): the writer that wrote it last appended at the version its
// own commit left (201 at version 3, version 2 missing for good), where
// any other process reads the stream at version 1 and refuses an append
// expecting 2 (409). Once a read through the writer's process sees the
// stream below the version that writer committed it at, the writer
// answers as the stream is now, read first. Both stores, and on MySQL both guards.
func TestAStreamsLastEventDeletedWhileItsWriterKnowsTheStreamIsAppendedToAsItIsOnceRead(t *testing.T) {
	t.Parallel()
	forEachGuard(t, func(t *testing.T, k teststore.Kind, open func(t *testing.T) (eventstore.Store, *metrics.Metrics)) {
		ctx := context.Background()
		store, m := open(t)
		id := uuid.New()
		appendTwo(t, store, id)
		k.Exec(t, store, "DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:])
		if st, err := store.Stream(ctx, id); err != nil || st.Version != 1 {
			t.Fatalf("a read of the stream whose event at version 2 was deleted: %+v, %v; want version 1", st, err)
		}
		sent := teststore.Statements(t, m, "guard_head")
		y := []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}
		res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2), Events: y})
		var wrong *eventstore.WrongExpectedVersionError
		if !errors.As(err, &wrong) || wrong.Current != 1 {
			t.Errorf("an append expecting version 2, by the writer that wrote the stream last, to a stream whose event at 2 "+
				"was deleted and read so since: %+v, %v; want a wrong expected version, the stream at 1", res, err)
		}
		readFirst(t, k, m, sent)
		if res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(1), Events: y}); err != nil || res.Version != 2 {
			t.Fatalf("an append expecting version 1 then: %+v, %v; want version 2", res, err)
		}
	})
}

// TestReadsOfStreamsTheWriterAppendsToDropNoSnapshot: the checks above
// cost a group of sound streams nothing: reads of the streams, racing the
// writer's appends to them (each read below or at the version the last
// commit left), never take a stream for one that lost events, and every
// group goes in one round trip, with no statement more.
func TestReadsOfStreamsTheWriterAppendsToDropNoSnapshot(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	store := teststore.OpenCounted(t, teststore.MySQL, m)
	ctx := context.Background()
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	for _, id := range ids {
		appendTwo(t, store, id)
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := store.ReadStream(ctx, ids[r%2], eventstore.ReadStreamOptions{Limit: 1, Direction: eventstore.Backward}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	sent := teststore.Statements(t, m, "guard_head")
	const appends = 200
	for i := range int64(appends) {
		for _, id := range ids {
			if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, Expected: eventstore.Exactly(2 + i),
				Events: []eventstore.NewEvent{{Type: "Y", Data: []byte(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("a read while the writer appended: %v", err)
		}
	}
	if n := teststore.Statements(t, m, "drop_snapshots_move_commit_id"); n != 0 {
		t.Errorf("the snapshots were dropped %d times by reads of sound streams; want never", n)
	}
	if n := teststore.Statements(t, m, "guard_head") - sent; n != 2*appends {
		t.Errorf("%d groups of %d tried the one round trip; want every one", n, 2*appends)
	}
}
