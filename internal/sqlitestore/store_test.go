package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	b := teststore.SQLite.Backend
	b.BeforeCommit = func(s eventstore.Store, f func()) { s.(*sqlitestore.Store).SetBeforeCommit(f) }
	storetest.Exercise(t, b)
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
	teststore.OpenSQLite(t, dir) // free again
}

// TestAFullDiskIsUnavailableNotAnInternalError: what the database cannot do
// right now (a full disk, an I/O error, a lock held too long) is
// ErrUnavailable, which clients see as 503 with Retry-After, not a 500.
func TestAFullDiskIsUnavailableNotAnInternalError(t *testing.T) {
	t.Parallel()
	s := teststore.OpenSQLite(t, t.TempDir())
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
