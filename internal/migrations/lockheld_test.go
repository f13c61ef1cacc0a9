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
// the holder too. The wait is ended once it has gone on past its first
// GET_LOCK, as seen on the server, not at a time.
func TestAMigrationLockHeldByAnotherSessionIsNamedWhileWaitingAndAtTheEnd(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	id := mysqltest.HoldMigrationLock(t, dsn)
	db := openMySQL(t, dsn)
	var logs testlog.Buffer
	m := startMigrate(t, db, &logs)
	m.waitForLog(t, "migration lock")
	m.waitForAnotherGetLock(t, openMySQL(t, dsn))
	err := m.stop(t)
	if err == nil {
		t.Fatal("migrate with the lock held by another session: no error")
	}
	if !errors.Is(err, context.Canceled) {
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

// migrate is a migration running in the background, on a context the test
// ends.
type migrate struct {
	cancel context.CancelFunc
	done   chan struct{} // closed once err is set
	err    error
	logs   *testlog.Buffer
}

// startMigrate starts migrating db, logging to logs; the migration is
// stopped at the test's end if the test has not stopped it.
func startMigrate(t *testing.T, db *sql.DB, logs *testlog.Buffer) *migrate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net: the test ends it
	m := &migrate{cancel: cancel, done: make(chan struct{}), logs: logs}
	go func() {
		defer close(m.done)
		m.err = migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}

// stop ends the migration's context and returns what it returned.
func (m *migrate) stop(t *testing.T) error {
	t.Helper()
	m.cancel()
	<-m.done
	return m.err
}

// waitForLog waits until the migration has logged a line holding s.
func (m *migrate) waitForLog(t *testing.T, s string) {
	t.Helper()
	for !strings.Contains(m.logs.String(), s) {
		select {
		case <-m.done:
			t.Fatalf("migrate returned (%v) before logging %q; logged:\n%s", m.err, s, m.logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitForAnotherGetLock waits until a session of the migration's database
// begins a GET_LOCK after this is called, as PROCESSLIST shows it (watch:
// another pool on that database): a wait for the lock went on into another
// GET_LOCK, with all that the migration does between two of them done. A
// new statement is seen as its session's TIME going back (every wait is
// lockWait, 2 s, long), so one missed while the machine is slow is waited
// for at the next.
func (m *migrate) waitForAnotherGetLock(t *testing.T, watch *sql.DB) {
	t.Helper()
	last := map[int64]int64{} // a waiting session's TIME when last seen
	for {
		select {
		case <-m.done:
			t.Fatalf("migrate returned (%v) while another session held the lock; logged:\n%s", m.err, m.logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		for id, secs := range getLocks(t, watch) {
			if was, ok := last[id]; ok && secs < was {
				return
			}
			last[id] = secs
		}
	}
}

// getLocks returns the sessions of watch's database running a GET_LOCK,
// each with its statement's TIME, as PROCESSLIST shows them.
func getLocks(t *testing.T, watch *sql.DB) map[int64]int64 {
	t.Helper()
	rows, err := watch.QueryContext(t.Context(),
		"SELECT ID, TIME FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'SELECT GET_LOCK(%'")
	if err != nil {
		t.Fatalf("read PROCESSLIST: %v", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, secs int64
		if err := rows.Scan(&id, &secs); err != nil {
			t.Fatalf("read PROCESSLIST: %v", err)
		}
		out[id] = secs
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read PROCESSLIST: %v", err)
	}
	return out
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
// wait has lasted, after the INFO line that began it. The wait is ended
// once it has gone on past the warning into another GET_LOCK. Not
// parallel: it sets longLockWait, which the parallel tests read after it
// has ended.
func TestALongWaitOnTheMigrationLockIsOneWarning(t *testing.T) {
	defer migrations.SetLongLockWait(time.Millisecond)()
	dsn := mysqltest.NewDatabase(t)
	id := mysqltest.HoldMigrationLock(t, dsn)
	db := openMySQL(t, dsn)
	var logs testlog.Buffer
	m := startMigrate(t, db, &logs)
	m.waitForLog(t, "level=WARN")
	m.waitForAnotherGetLock(t, openMySQL(t, dsn))
	if err := m.stop(t); err == nil {
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
