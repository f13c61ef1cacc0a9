package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAnAppendWaitingForTheWriteLockAnotherConnectionHoldsSaysSo: another
// process (an operator's sqlite3 shell, a backup) holds the file's write
// lock, and the writer's BEGIN IMMEDIATE waits for it until the request's
// time ends. The append said "the database did not answer within the
// request's time (begin: context deadline exceeded)", as if the database
// were silent. It says that the write lock was not free.
func TestAnAppendWaitingForTheWriteLockAnotherConnectionHoldsSaysSo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	holdWriteLock(t, dir)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "the write lock was not free within the request's time") ||
		strings.Contains(err.Error(), "did not answer") {
		t.Errorf("an append whose time ended while another connection held the file's write lock: %v; "+
			"want an error wrapping ErrUnavailable that says the write lock was not free within the request's time, not that the database did not answer", err)
	}
}

// holdWriteLock takes the write lock of dir's database from a connection of
// another program's (BEGIN IMMEDIATE), held until release or the test's end.
func holdWriteLock(t *testing.T, dir string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	holder, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if _, err := holder.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock from another connection: %v", err)
	}
	release = func() { holder.ExecContext(context.Background(), "ROLLBACK") } //nolint:errcheck
	t.Cleanup(release)
	return release
}
