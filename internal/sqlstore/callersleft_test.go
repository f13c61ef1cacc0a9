package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendWaitingForTheWriteLockEndsWhenItsCallersLeave: a group's
// transaction ran on a context of its own, ended only by its callers'
// earliest deadline, so that a caller who left did not cut a COMMIT. But
// its reads, which wait for the log's write lock, went on waiting after
// every caller had left: the Append, which waits for its group's outcome,
// held its HTTP handler, and a stop cut short by a second signal could not
// close the store within its reserve (the handler still ran). The reads
// now end once every caller of the group has left; nothing was written,
// and each is told so. On both stores, the lock held by another session.
func TestAnAppendWaitingForTheWriteLockEndsWhenItsCallersLeave(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			m := metrics.New("test")
			store, lock, waitStatement := openLocked(t, kind, m)
			// Well before the store's own bound on the wait, which would
			// end it too: 30 s (txTimeout) on MySQL, SQLite's busy timeout
			// (10 s) there.
			patience := 20 * time.Second
			if kind == "sqlite" {
				patience = 5 * time.Second
			}
			ctx, cancel := context.WithCancel(context.Background()) // no deadline: the store bounds it (txTimeout)
			stream := uuid.New()
			done := make(chan error, 1)
			go func() {
				_, err := store.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: eventstore.Any,
					Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
				done <- err
			}()
			// The group's reads are sent, and wait for the lock.
			for deadline := time.Now().Add(time.Minute); teststore.Statements(t, m, waitStatement) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the append's %s was never sent", waitStatement)
				}
			}
			time.Sleep(200 * time.Millisecond)
			cancel() // the client went away (a stop cut its connection)
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("an append whose caller left before it was written: expected the caller's context.Canceled, got %v", err)
				}
			case <-time.After(patience):
				t.Errorf("an append whose caller left went on waiting for the write lock another session holds")
				lock.Rollback() //nolint:errcheck // let it go, so that the test ends
				<-done
			}
			lock.Rollback() //nolint:errcheck // it may be already
			// Nothing was written, and the store appends as usual.
			ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
			defer cancel2()
			res, err := store.Append(ctx2, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Expected: eventstore.NoStream,
				Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatalf("an append after the lock was let go: %v", err)
			}
			if res.Events[0].Version != 1 {
				t.Errorf("the append whose caller left wrote its event: the next is at version %d, want 1", res.Events[0].Version)
			}
		})
	}
}

// openLocked opens a store of kind, counting its statements in m, and holds
// its log's write lock from another session, in the returned transaction
// (rolled back at cleanup); the statement kind is the one of an append's
// reads that waits for the lock.
func openLocked(t *testing.T, kind string, m *metrics.Metrics) (eventstore.Store, *sql.Tx, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var store interface {
		eventstore.Store
		Close() error
	}
	var db *sql.DB
	var take, waits string
	switch kind {
	case "mysql":
		dsn := mysqltest.NewDatabase(t)
		s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		store = s
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if db, err = sql.Open("mysql", dsn); err != nil {
			t.Fatal(err)
		}
		take, waits = "SELECT position FROM log_head WHERE id = 1 FOR UPDATE", "lock_head"
	default:
		s, err := sqlitestore.Open(ctx, t.TempDir(), sqlitestore.Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		store = s
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if db, err = sql.Open("sqlite", s.Path()); err != nil {
			t.Fatal(err)
		}
		// A write in a transaction holds SQLite's one write lock.
		take, waits = "UPDATE log_head SET position = position WHERE id = 1", "begin"
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	t.Cleanup(func() { db.Close() })
	lock, err := db.BeginTx(context.Background(), nil) // ctx's end would roll it back
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Rollback() }) //nolint:errcheck // it may be already
	if _, err := lock.ExecContext(ctx, take); err != nil {
		t.Fatalf("%s: %v", take, err)
	}
	return store, lock, waits
}
