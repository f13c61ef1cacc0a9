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
	db := openMySQL(t, dsn)
	var logs testlog.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err := migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(&logs, nil)))
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

// TestWaitingOnAnotherInstancesMigrationIsOneInfoLine: instances started
// together each take the migration lock in turn, and every one but the
// first found it held by another's migration and logged a WARN, which an
// operator's alerts take for a fault. A wait that ends soon is one INFO
// line naming the holder, and no WARN.
func TestWaitingOnAnotherInstancesMigrationIsOneInfoLine(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	db := openMySQL(t, dsn)
	holder, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	var id int64
	var got int
	if err := holder.QueryRowContext(t.Context(), "SELECT CONNECTION_ID(), GET_LOCK("+migrations.LockName+", 0)").Scan(&id, &got); err != nil || got != 1 {
		t.Fatalf("take the migration lock as another instance: %d, %v", got, err)
	}
	var logs testlog.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(&logs, nil))) }()
	// The other instance's migration ends once this one waits for it.
	for !strings.Contains(logs.String(), "migration lock") {
		select {
		case err := <-done:
			t.Fatalf("migrate returned (%v) while another session held the lock, before saying it waited", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := holder.ExecContext(ctx, "DO RELEASE_LOCK("+migrations.LockName+")"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("migrate after the other instance's migration: %v", err)
	}
	var lines []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "migration lock") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "level=INFO") || !strings.Contains(lines[0], "holder_connection_id="+strconv.FormatInt(id, 10)) {
		t.Errorf("a brief wait for another instance's migration logged %q; want one INFO line naming the holder, connection %d", lines, id)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a brief wait for another instance's migration logged a warning:\n%s", logs.String())
	}
}

// TestALongWaitOnTheMigrationLockIsOneWarning: a wait past what a
// migration takes (longLockWait, made short here) is worth an operator's
// look: one WARN line, naming the holder as it is then and how long the
// wait has lasted, after the INFO line that began it. Not parallel: it
// sets longLockWait, which the parallel tests read after it has ended.
func TestALongWaitOnTheMigrationLockIsOneWarning(t *testing.T) {
	defer migrations.SetLongLockWait(time.Millisecond)()
	dsn := mysqltest.NewDatabase(t)
	id := mysqltest.HoldMigrationLock(t, dsn)
	db := openMySQL(t, dsn)
	var logs testlog.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 7*time.Second) // three of GET_LOCK's waits, two seconds each, and some
	defer cancel()
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(&logs, nil))); err == nil {
		t.Fatal("migrate with the lock held by another session: no error")
	}
	var info, warn []string
	for line := range strings.Lines(logs.String()) {
		switch {
		case !strings.Contains(line, "migration lock"):
		case strings.Contains(line, "level=INFO"):
			info = append(info, line)
		case strings.Contains(line, "level=WARN"):
			warn = append(warn, line)
		}
	}
	holder := "holder_connection_id=" + strconv.FormatInt(id, 10)
	if len(info) != 1 || len(warn) != 1 || !strings.Contains(warn[0], holder) || !strings.Contains(warn[0], "waited=") {
		t.Errorf("a long wait for the migration lock logged INFO %q and WARN %q; want one of each, the warning naming the holder (%s) and how long it waited",
			info, warn, holder)
	}
}

// openMySQL opens dsn's database, closed at the test's end.
func openMySQL(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
