package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestClosingAfterTheServerEndedTheIdleSessionsSucceeds: a server (its
// wait_timeout, a proxy's idle cut) that already ended the
// sessions a pool keeps idle made Close fail with the driver's "bad
// connection" (its COM_QUIT on a dead socket), and a clean SIGTERM exit 1.
// A session the server already ended is not a close that failed. On a
// private server, whose sessions the test may kill.
func TestClosingAfterTheServerEndedTheIdleSessionsSucceeds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "closing")
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// The server's wait_timeout lowered under the running store (its pools'
	// bounds were read at Open): the sessions made from now on are ended
	// by the server after 2 s idle.
	root := otherProcessDB(t, server.DSN(""))
	var before int64
	if err := root.QueryRowContext(ctx, "SELECT MAX(id) FROM information_schema.processlist").Scan(&before); err != nil {
		t.Fatal(err)
	}
	server.Exec(t, "SET GLOBAL wait_timeout = 2")
	appendVersions(ctx, t, s, uuid.New(), 1)
	for range 3 {
		if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	// Wait until the server has ended every session of the store's made
	// since.
	for {
		var n int
		if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = 'closing' AND id > ?", before).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the store's sessions made since are still on the server (%d)", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Errorf("Close, the server having ended the store's idle sessions: %v; want nil (a session already ended is not a close that failed)", err)
	}
}
