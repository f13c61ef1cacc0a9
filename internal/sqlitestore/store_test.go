package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, storetest.Backend{
		Open:         func(t *testing.T) eventstore.Store { return openStore(t, t.TempDir()) },
		BeforeCommit: func(s eventstore.Store, f func()) { s.(*sqlitestore.Store).SetBeforeCommit(f) },
		Exec: func(t *testing.T, s eventstore.Store, query string, args ...any) {
			db, err := sql.Open("sqlite", s.(*sqlitestore.Store).Path()+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(query, args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		},
	})
}

// TestOneProcessPerDataDirectory: a second store on the same directory is
// refused with a clear error while the first is open, and allowed after.
func TestOneProcessPerDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := sqlitestore.Open(context.Background(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitestore.Open(context.Background(), dir, sqlitestore.Options{}); !errors.Is(err, sqlitestore.ErrInUse) ||
		!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open on a directory in use: err = %v, want ErrInUse naming pid %d", err, os.Getpid())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openStore(t, dir) // free again
}

func openStore(t testing.TB, dir string) *sqlitestore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
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

// TestAFullDiskIsUnavailableNotAnInternalError: what the database cannot do
// right now (a full disk, an I/O error, a lock held too long) is
// ErrUnavailable, which clients see as 503 with Retry-After, not a 500.
func TestAFullDiskIsUnavailableNotAnInternalError(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	if err := s.LimitPages(1); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = 'x'
	}
	data := []byte(`"` + string(big) + `"`)
	_, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "Big", Data: data}}})
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("append to a full database: err = %v, want ErrUnavailable", err)
	}
	if n, err := s.Head(context.Background()); err != nil || n != 0 {
		t.Fatalf("after the failed append the head is %d (%v), want 0: nothing written", n, err)
	}
}
