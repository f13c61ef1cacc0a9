package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) eventstore.Store {
		return openStore(t, mysqltest.NewDatabase(t))
	})
}

// openStore opens and migrates a store on dsn, closed at cleanup.
func openStore(t testing.TB, dsn string) *mysqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func appendOne(ctx context.Context, s *mysqlstore.Store, stream uuid.UUID) (eventstore.AppendResult, error) {
	return s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing",
		Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
}

// TestHeldTransactionIsNotSkippedByReaders is the case that breaks stores
// which take positions from AUTO_INCREMENT: transaction A holds position N
// and has not committed; transaction B, started later, must not become
// visible at N+1 before A, or a reader polling "position > last" would move
// past N for ever. Two stores stand for two service processes.
func TestHeldTransactionIsNotSkippedByReaders(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.SetBeforeCommit(func() {
		once.Do(func() {
			close(held)
			<-release
		})
	})
	aDone := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := appendOne(ctx, a, uuid.New())
		if err != nil {
			t.Errorf("held append: %v", err)
		}
		aDone <- res
	}()
	<-held

	bDone := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := appendOne(ctx, b, uuid.New())
		if err != nil {
			t.Errorf("later append: %v", err)
		}
		bDone <- res
	}()

	// While A holds its transaction open, a reader sees nothing, and B
	// cannot commit ahead of A.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if evs := readAllAfter(t, b, 0); len(evs) != 0 {
			t.Fatalf("reader saw %d events while the first transaction was uncommitted, want none", len(evs))
		}
		select {
		case res := <-bDone:
			t.Fatalf("a later append committed at position %d while an earlier one was still open", res.Events[0].Position)
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(release)
	resA, resB := <-aDone, <-bDone
	if resA.Events[0].Position >= resB.Events[0].Position {
		t.Fatalf("positions: held %d, later %d; want the held one first", resA.Events[0].Position, resB.Events[0].Position)
	}
	evs := readAllAfter(t, b, 0)
	if len(evs) != 2 || evs[0].Position != resA.Events[0].Position || evs[1].Position != resB.Events[0].Position {
		t.Fatalf("reader saw %v, want both events in commit order", evs)
	}
}

func readAllAfter(t *testing.T, s eventstore.Store, after int64) []eventstore.Event {
	t.Helper()
	page, err := s.ReadAll(context.Background(), eventstore.ReadAllOptions{After: after, Limit: eventstore.MaxLimit})
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	var out []eventstore.Event
	for e, err := range page.Events {
		if err != nil {
			t.Fatalf("read log: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// TestConcurrencyAcrossProcesses races appends through several stores (as
// several service processes would) on one database: expected versions still
// hold, and the reader sees every event once, in order.
func TestConcurrencyAcrossProcesses(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	stores := []*mysqlstore.Store{openStore(t, dsn), openStore(t, dsn), openStore(t, dsn)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream := uuid.New()
	if _, err := appendOne(ctx, stores[0], stream); err != nil {
		t.Fatal(err)
	}
	var wins, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 45 {
		wg.Go(func() {
			_, err := stores[i%3].Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1),
				Events: []eventstore.NewEvent{{Type: "Raced", Data: []byte(`{}`)}}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, eventstore.ErrWrongExpectedVersion):
				conflicts++
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 44 {
		t.Fatalf("45 appends on version 1 through 3 processes: %d won, %d conflicted; want 1 and 44", wins, conflicts)
	}
}

// TestConcurrentMigrations starts several stores on an empty database at
// once: each migration is applied exactly once and every start succeeds.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				t.Errorf("concurrent migrate: %v", err)
			}
		})
	}
	wg.Wait()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT version_id, COUNT(*) FROM schema_migrations WHERE version_id > 0 GROUP BY version_id ORDER BY version_id")
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var v, c int64
		if err := rows.Scan(&v, &c); err != nil {
			t.Fatal(err)
		}
		n++
		if v != n || c != 1 {
			t.Errorf("migration %d recorded %d times (expected version %d once)", v, c, n)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d migrations recorded, want 4", n)
	}
}

func TestOpenRefusesDSNWithoutDatabase(t *testing.T) {
	t.Parallel()
	_, err := mysqlstore.Open(context.Background(), "root@tcp(127.0.0.1:3306)/", mysqlstore.Options{})
	if err == nil {
		t.Fatal("Open without a database name succeeded, want an error saying so")
	}
}

func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens, the dial is refused at once.
	_, err := mysqlstore.Open(ctx, "root@tcp(127.0.0.1:1)/x", mysqlstore.Options{})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server: err = %v, want ErrUnavailable", err)
	}
}
