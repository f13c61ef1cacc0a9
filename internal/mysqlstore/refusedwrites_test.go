package mysqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAServerThatRefusesWritesAnyWayIsUnavailable: a server set read-only
// (read_only, 1290) made appends a 503 already, but two other ways a
// MariaDB server refuses writes while the store runs were a 500 "internal
// error": every session's transactions made read-only (tx_read_only, 1792:
// "Cannot execute statement in a READ ONLY transaction"), and the server
// restarted with --innodb-read-only (1036: "Table 'log_head' is read
// only"). Each is the database's passing trouble, as read_only is: a 503,
// nothing written. On a private server, restarted after a clean shutdown
// (innodb_read_only prevents crash recovery).
func TestAServerThatRefusesWritesAnyWayIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	root := server.CreateDatabase(t, "refused")
	s, _ := openCounted(t, root)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	refused := func(what string) {
		t.Helper()
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
		if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
			t.Errorf("an append to a server %s: %v; want an error wrapping ErrUnavailable, not of unknown outcome", what, err)
		}
	}

	server.Exec(t, "SET GLOBAL tx_read_only = ON")
	killSessionsOf(ctx, t, otherProcessDB(t, root), "root") // its sessions take the new default
	refused("whose sessions' transactions are read-only (tx_read_only)")
	server.Exec(t, "SET GLOBAL tx_read_only = OFF")

	server.Exec(t, "SHUTDOWN")
	pid := filepath.Join(server.Dir, "pid") // removed at the end of a clean shutdown
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(pid); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd did not shut down within a minute\n%s", server.ErrorLog())
		}
	}
	server.Kill() // waits for the process
	server.Args = append(server.Args, "--innodb-read-only")
	server.Start(t)
	refused("restarted with --innodb-read-only")
	if t.Failed() {
		return
	}
	if st, err := s.Stream(ctx, stream); err != nil || st.Version != 1 {
		t.Errorf("the stream after the refused appends: %+v, %v; want version 1: nothing written", st, err)
	}
}

// TestAnOlderSchemasColumnWithoutADefaultIsUnavailable: an older schema
// restored under a running store (streams with the version column that
// migration 12 dropped, NOT NULL without a default) refused every append
// that makes a stream with 1364 ("Field 'version' doesn't have a default
// value"), a 500 "internal error". It is the database's trouble, as a
// column missing is: a 503 saying what the schema lacks and what to do.
func TestAnOlderSchemasColumnWithoutADefaultIsUnavailable(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	appendVersions(ctx, t, s, uuid.New(), 1)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "ALTER TABLE streams ADD COLUMN version BIGINT NOT NULL"); err != nil {
		t.Fatal(err)
	}
	_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Fatalf("an append making a stream, the streams table with a column the store does not write: %v; want an error wrapping ErrUnavailable", err)
	}
	for _, want := range []string{"version", "older schema", "api migrate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("an append making a stream, the streams table with a column the store does not write: %q; want it to say %q", err, want)
		}
	}
}
