package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAnAppendStalledByAGlobalReadLockSaysSo: a global read lock
// (FLUSH TABLES WITH READ LOCK; a locking dump, mariabackup) held every
// append to its deadline, and the log said only that the database did not
// answer in time: the search for the log's lock holder looks at InnoDB's
// transactions, and none holds it. The store's session waits in the
// server's PROCESSLIST ("Waiting for backup lock" on MariaDB, "Waiting for
// global read lock" on MySQL): the log says so, naming it, once. On a
// private server.
func TestAnAppendStalledByAGlobalReadLockSaysSo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "readlock")
	var logged testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logged, nil)))
	appendVersions(ctx, t, s, uuid.New(), 1)
	conn, err := otherProcessDB(t, server.DSN("")).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	_, err = appendOne(short, s, uuid.New(), eventstore.NoStream)
	cancelShort()
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("an append under a global read lock: %v; want it unavailable at its deadline", err)
	}
	s.WaitLockHolderSearch()
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	log := logged.String()
	if !strings.Contains(log, "global read lock") || !strings.Contains(log, "waiting_state=") || strings.Count(log, "level=ERROR") != 1 {
		t.Errorf("an append stalled by a global read lock: want one ERROR line naming the global read lock and the waiting session's state; the log:\n%s", log)
	}
	// The store's waiting session is named by user@host too (the
	// twenty-fifth session): a connection id alone is the server's.
	if !strings.Contains(log, "waiting_user=") || !strings.Contains(log, "waiting_host=") {
		t.Errorf("an append stalled by a global read lock: want the waiting session's user and host in its line; the log:\n%s", log)
	}
}

// TestAnAppendStalledBehindADDLSaysSo: a DDL statement (ALTER TABLE events
// ADD INDEX …) queued on the table's metadata lock behind a long
// transaction that read the table holds every statement on the table
// behind it, appends too, to their deadline, and the log named neither.
// It names the metadata lock and the DDL's connection. On a private
// server.
func TestAnAppendStalledBehindADDLSaysSo(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t)
	dsn := server.CreateDatabase(t, "ddlwait")
	var logged testlog.Buffer
	s := openLogged(t, dsn, slog.New(slog.NewTextHandler(&logged, nil)))
	appendVersions(ctx, t, s, uuid.New(), 1)
	other := otherProcessDB(t, dsn)
	reader := session(ctx, t, other)
	if _, err := reader.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.ExecContext(ctx, "SELECT COUNT(*) FROM events"); err != nil {
		t.Fatal(err)
	}
	ddl := session(ctx, t, other)
	var ddlID int64
	if err := ddl.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&ddlID); err != nil {
		t.Fatal(err)
	}
	altered := make(chan error, 1)
	go func() {
		_, err := ddl.ExecContext(ctx, "ALTER TABLE events ADD INDEX by_type (event_type)")
		altered <- err
	}()
	// Wait until the ALTER waits for the reader.
	for {
		var state sql.NullString
		if err := other.QueryRowContext(ctx, "SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?", ddlID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state.String == "Waiting for table metadata lock" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the ALTER never waited for the reader's transaction (state %q)", state.String)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var ddlUser, ddlHost string
	if err := other.QueryRowContext(ctx, "SELECT USER, HOST FROM information_schema.PROCESSLIST WHERE ID = ?", ddlID).Scan(&ddlUser, &ddlHost); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
	cancelShort()
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("an append behind a DDL statement waiting for a metadata lock: %v; want it unavailable at its deadline", err)
	}
	s.WaitLockHolderSearch()
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-altered; err != nil {
		t.Fatalf("the ALTER: %v", err)
	}
	log := logged.String()
	if !strings.Contains(log, "metadata lock") || !strings.Contains(log, fmt.Sprintf("ddl_connection_id=%d ", ddlID)) || strings.Count(log, "level=ERROR") != 1 {
		t.Errorf("an append stalled behind a DDL statement: want one ERROR line naming the metadata lock and the DDL's connection %d; the log:\n%s", ddlID, log)
	}
	// The DDL's session is named by user@host, what it runs and for how
	// long, not by its id alone (the twenty-fifth session).
	account := ddlUser
	if ddlHost != "" {
		account += "@" + ddlHost
	}
	if want := fmt.Sprintf("connection %d (%s: ALTER for ", ddlID, account); !strings.Contains(log, want) || !strings.Contains(log, "ddl_user="+ddlUser) {
		t.Errorf("an append stalled behind a DDL statement: want its line to name the DDL's session as %q; the log:\n%s", want, log)
	}
}
