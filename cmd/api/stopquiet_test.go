package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartOnAnAddressInUseLogsNoLiveFeedWarning: the live feed started
// before the server listened, and a start on an address already in use
// stopped it as it read the log's head: its WARN "live feed: cannot read
// the log head" (context canceled) came before the real error, sending an
// operator after the database. The feed now starts once the server
// listens. On both stores.
func TestAStartOnAnAddressInUseLogsNoLiveFeedWarning(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { taken.Close() })
		cfg := config.Defaults()
		cfg.Addr = taken.Addr().String()
		// Closed by the test's cleanup. Tried a few times: the feed's first
		// read raced the failed listen.
		store := &closedByTest{closableStore: k.Open(t).(closableStore)}
		for range 5 {
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			err := serve(context.Background(), context.Background(), cfg, nil, store, nil, log, metrics.New("test"))
			if err == nil || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("a start on an address in use: expected the listen error, got %v", err)
			}
			if strings.Contains(logs.String(), "live feed") {
				t.Fatalf("a start on an address in use logged of the live feed; the log says:\n%s", logs.String())
			}
		}
	})
}

// TestAStoreWhoseCloseFailsFailsTheStop: the store's Close error was
// discarded, and a stop whose close failed (the embedded store's clean-stop
// record not written, so the next start checks every page; a connection
// pool that could not close) exited 0 saying "stopped". The stop now
// returns the error (exit status 1; main writes it to stderr), without
// logging it a second time, and does not say it stopped cleanly. On both
// stores.
func TestAStoreWhoseCloseFailsFailsTheStop(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &failingClose{closableStore: k.Open(t).(closableStore)}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 5 * time.Second
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- serve(ctx, context.Background(), cfg, nil, store, nil, log, metrics.New("test")) }()
		waitListening(t, logs)
		cancel() // SIGTERM
		select {
		case err := <-done:
			if !errors.Is(err, errCloseFailed) {
				t.Errorf("a stop whose store failed to close: expected its error (exit status 1), got %v", err)
			}
			// Said once, by main, which writes the returned error to
			// stderr: the stop logged it as an ERROR as well.
			if strings.Contains(logs.String(), errCloseFailed.Error()) {
				t.Errorf("a stop whose store failed to close: expected its error once, returned (main writes it), not logged as well; the log says:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), `"msg":"stopped"`) {
				t.Errorf("a stop whose store failed to close logged a clean stop:\n%s", logs.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("the stop did not end")
		}
	})
}

// waitsForTheLock reports whether a session waits for the write lock
// another holds: on MySQL, one of db's database whose transaction is in
// LOCK WAIT (information_schema.INNODB_TRX); on SQLite, a goroutine in
// SQLite's busy handler, where BEGIN IMMEDIATE waits for the file's write
// lock. (That look is the process's: another test's wait would count too,
// which the caller narrows by looking only once the append's BEGIN went.)
func waitsForTheLock(t *testing.T, k teststore.Kind, db *sql.DB) bool {
	t.Helper()
	if k.Name != teststore.MySQL.Name {
		buf := make([]byte, 1<<20)
		for {
			n := runtime.Stack(buf, true)
			if n < len(buf) {
				return bytes.Contains(buf[:n], []byte("sqlite3InvokeBusyHandler"))
			}
			buf = make([]byte, 2*len(buf))
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.INNODB_TRX t
		JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
		WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()`).Scan(&n); err != nil {
		t.Fatalf("look for a session waiting for a lock: %v", err)
	}
	return n > 0
}

var errCloseFailed = errors.New("close failed (test)")

// failingClose is a store whose Close fails; the test's cleanup closes it.
type failingClose struct{ closableStore }

func (f *failingClose) Close() error { return errCloseFailed }

// closedByTest is a store whose Close does nothing; the test's cleanup closes it.
type closedByTest struct{ closableStore }

func (c *closedByTest) Close() error { return nil }

// TestASecondSignalEndsAnAppendWaitingForTheWriteLock: after a second
// signal, the stop cuts what still runs and waits its reserve (a second)
// for the handlers to return; an append waiting for the write lock, which
// another session held, went on waiting after its client's connection was
// cut, so the stop ended with "1 requests still running" and the store
// left open, as a crash leaves it.
// The append now ends once its callers have left, and the store closes.
// On both stores.
func TestASecondSignalEndsAnAppendWaitingForTheWriteLock(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 10 * time.Second
		cfg.DataDir = t.TempDir()
		take, waits := "UPDATE log_head SET position = position WHERE id = 1", "begin"
		driver, dsn := "sqlite", ""
		if k.Name == teststore.MySQL.Name {
			cfg.MySQLDSN = mysqltest.NewDatabase(t)
			driver, dsn = "mysql", cfg.MySQLDSN
			take, waits = "SELECT position FROM log_head WHERE id = 1 FOR UPDATE", "lock_head"
		}
		store, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), m, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if dsn == "" {
			dsn = store.(*sqlitestore.Store).Path()
		}
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		lock, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lock.Rollback() }) //nolint:errcheck // let go once the test is over
		if _, err := lock.Exec(take); err != nil {
			t.Fatalf("%s: %v", take, err)
		}
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		cut, cutNow := context.WithCancel(context.Background())
		defer cutNow()
		var addr atomic.Value
		done := make(chan error, 1)
		go func() {
			// Closed by the test's cleanup too, since the stop may leave it open.
			done <- serveOn(ctx, cut, cfg, serveHooks{listen: listenRecording(&addr)}, nil, &closedByTest{store}, nil, log, m)
		}()
		waitListening(t, logs)
		go func() {
			body := strings.NewReader(`{"stream_type":"thing","events":[{"type":"happened","data":{}}]}`)
			if resp, err := http.Post("http://"+addr.Load().(string)+"/streams/"+uuid.NewString()+"/events", "application/json", body); err == nil {
				resp.Body.Close()
			}
		}()
		// The signals once the append waits for the lock, as the server
		// says, not after a time: sent before, they would cut an append
		// that never waited, and prove nothing of the wait.
		for deadline := time.Now().Add(time.Minute); teststore.Statements(t, m, waits) == 0 || !waitsForTheLock(t, k, db); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the append's %s was never sent, or never waited for the lock; the log says:\n%s", waits, logs.String())
			}
		}
		stop()   // SIGTERM
		cutNow() // and again
		select {
		case err := <-done:
			// Not "1 requests still running": the store then stays open.
			if err == nil || !strings.HasSuffix(err.Error(), "; the requests still running were cut") {
				t.Errorf("a stop cut short while an append waited for the write lock: expected the cut's error with the handlers returned, got %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("the stop did not end")
		}
	})
}
