package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAMigrationLockHeldByAnotherSessionIsNamedWhileWaitingAndAtTheEnd: the
// migration lock held by another session (another instance's migration,
// or an operator's GET_LOCK left in a client) made `api migrate` and
// `api` wait in silence, then fail with "take migration lock: context
// deadline exceeded". It logs once while it waits, naming the holder's
// connection id and what PROCESSLIST says it is doing, and the error names
// the holder too.
func TestAMigrationLockHeldByAnotherSessionIsNamedWhileWaitingAndAtTheEnd(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	id := mysqltest.HoldMigrationLock(t, dsn)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var logs testlog.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err = migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err == nil {
		t.Fatal("migrate with the lock held by another session: no error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("migrate with the lock held: %v; want it to wrap the context's end", err)
	}
	conn := "connection " + strconv.FormatInt(id, 10)
	if !strings.Contains(err.Error(), conn) {
		t.Errorf("migrate with the lock held by %s: %q; want the error to name it", conn, err)
	}
	if n := strings.Count(logs.String(), "migration lock"); n != 1 || !strings.Contains(logs.String(), "holder_connection_id="+strconv.FormatInt(id, 10)) ||
		!strings.Contains(logs.String(), "holder_command=Sleep") {
		t.Errorf("migrate with the lock held by %s: logged %d lines of the lock; want one naming the holder and what it does (Sleep):\n%s", conn, n, logs.String())
	}
}
