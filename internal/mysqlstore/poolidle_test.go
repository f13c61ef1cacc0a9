package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestEveryPoolEndsItsIdleSessionsBeforeTheServerDoes: only the writer's
// pool closed its idle sessions before the server's wait_timeout; the
// read and feed pools kept theirs up to 30 minutes, which the server (or
// a proxy's idle cut) ended first, and the next request to take one had
// the driver log a WARN line for each ("closing bad idle connection",
// "broken pipe"), a steady stream in normal operation. Every pool now
// ends its idle sessions first. On a private server with wait_timeout = 4:
// the store's sessions, once idle, must go without the server ending any
// (Aborted_clients counts those it ends).
func TestEveryPoolEndsItsIdleSessionsBeforeTheServerDoes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--wait-timeout=4")
	s, _ := openCounted(t, server.CreateDatabase(t, "idle"))
	appendVersions(ctx, t, s, uuid.New(), 2)
	for range 3 {
		if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	// One session of root's, never idle long, watches the store's.
	conn, err := otherProcessDB(t, server.DSN("")).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	aborted := func() int64 {
		t.Helper()
		var name string
		var n int64
		if err := conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Aborted_clients'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	abortedBefore := aborted()
	ids := sessionsOf(ctx, t, conn, "idle")
	if len(ids) == 0 {
		t.Fatal("the store holds no session on the server")
	}
	for {
		left := sessionsOf(ctx, t, conn, "idle", ids...)
		if len(left) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the store's idle sessions %v never went", left)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n := aborted() - abortedBefore; n != 0 {
		t.Errorf("the server ended %d of the store's idle sessions (its wait_timeout, 4 s); want every pool to close its idle sessions before", n)
	}
}

// sessionsOf lists the ids of the sessions on database db, other than
// conn's, among only when it names any.
func sessionsOf(ctx context.Context, t *testing.T, conn *sql.Conn, db string, only ...int64) []int64 {
	t.Helper()
	q := "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()"
	if len(only) > 0 {
		q += " AND id IN (" + strings.Trim(strings.Join(strings.Fields(fmt.Sprint(only)), ","), "[]") + ")"
	}
	rows, err := conn.QueryContext(ctx, q, db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
