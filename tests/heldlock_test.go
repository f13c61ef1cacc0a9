package tests

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// holdWriteLock takes the lock every append needs, from a session of the
// test's own, as a stalled writer of another process would: log_head's row
// on MySQL, SQLite's write lock on the embedded store. It returns a func
// that releases it (safe to call more than once; also called at cleanup).
func holdWriteLock(t *testing.T, s *server, dataDir string) (release func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	driver, dsn, lock := "mysql", s.DSN, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"
	if s.DSN == "" {
		driver = "sqlite"
		dsn = filepath.Join(dataDir, "tributary.db") + "?_pragma=busy_timeout(5000)"
		lock = "UPDATE log_head SET position = position WHERE id = 1"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin := "BEGIN"
	if driver == "sqlite" {
		begin = "BEGIN IMMEDIATE"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, lock); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// TestAppendsWaitingOnAHeldLockGet503WithinTheirTimeoutAndAreNeverWritten:
// with the write lock held by another session, appends get 503 with
// Retry-After within the request timeout (plus a little), all of them at
// once rather than one timeout after another; and when the lock is released,
// none of them is written after all, their clients long gone.
func TestAppendsWaitingOnAHeldLockGet503WithinTheirTimeoutAndAreNeverWritten(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		dataDir := t.TempDir()
		const timeout = time.Second
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_REQUEST_TIMEOUT=1s", "TRIBUTARY_DATA_DIR="+dataDir)...)
		srv.mustAppend(t, newID(), appendBody{StreamType: "t", Events: events(1, "Before")})
		release := holdWriteLock(t, srv, dataDir)

		const n = 6
		streams := make([]string, n)
		var wg sync.WaitGroup
		for i := range streams {
			streams[i] = newID()
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Spread the arrivals, so later requests queue behind a group
				// that is already waiting on the lock.
				time.Sleep(time.Duration(i) * 100 * time.Millisecond)
				start := time.Now()
				r, err := srv.request(http.MethodPost, "/streams/"+streams[i]+"/events",
					jsonBytes(t, appendBody{StreamType: "t", Events: events(2, "Held")}))
				took := time.Since(start)
				if err == nil && took > timeout+2*time.Second {
					t.Errorf("append %d while the lock is held: answered after %s; expected within the %s timeout and a little", i, took.Round(time.Millisecond), timeout)
				}
				faultCheckUnavailable(t, "an append waiting on a held lock", r, err, took)
			}()
		}
		wg.Wait()
		time.Sleep(timeout) // any group still waiting on the lock would now commit once it is released
		release()
		time.Sleep(time.Second)
		for i, id := range streams {
			if r := srv.get(t, "/streams/"+id); r.Status != http.StatusNotFound {
				t.Errorf("stream %d, whose append was answered 503: GET answered %d; expected 404, nothing written", i, r.Status)
			}
		}
		if last := srv.mustAppend(t, newID(), appendBody{StreamType: "t", Events: events(1, "After")}); last.Events[0].Position != 2 {
			t.Errorf("the first append after the lock was released got position %d; expected 2, as nothing was written meanwhile", last.Events[0].Position)
		}
	})
}

// TestShutdownPastItsTimeoutCutsWhatRunsButNeverClosesTheStoreUnderIt:
// an append still waiting on a held lock, and a page read whose client
// stopped reading, when the shutdown timeout passes, are cut off, and the
// process is gone within the timeout (it waited the request timeout and
// 10 s more, past an orchestrator's grace period). The store is closed only
// once their handlers have returned, so none of them reads from a closed
// store, or not at all (as a crash leaves it); nothing is written.
func TestShutdownPastItsTimeoutCutsWhatRunsButNeverClosesTheStoreUnderIt(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		dataDir := t.TempDir()
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_REQUEST_TIMEOUT=2s", "TRIBUTARY_SHUTDOWN_TIMEOUT=300ms", "TRIBUTARY_DATA_DIR="+dataDir)...)
		big := newID()
		for i := 0; i < 8; i++ {
			srv.mustAppend(t, big, appendBody{StreamType: "big", Events: bigBatch(100, 10_000)})
		}
		stallOn(t, srv, "/events?limit=1000")
		release := holdWriteLock(t, srv, dataDir)
		stream := newID()
		answered := make(chan *response, 1)
		go func() {
			r, _ := srv.request(http.MethodPost, "/streams/"+stream+"/events", jsonBytes(t, appendBody{StreamType: "t", Events: events(1, "Late")}))
			answered <- r
		}()
		time.Sleep(300 * time.Millisecond) // the append now waits on the lock
		start := time.Now()
		code, _ := srv.terminate()
		srv.crashed = true // its status is checked here
		if took := time.Since(start); took > time.Second || code != 1 {
			t.Errorf("the server exited with status %d after %s; expected status 1 (the drain cut short) within the 300ms shutdown timeout", code, took)
		}
		if r := <-answered; r != nil && r.Status != http.StatusServiceUnavailable {
			t.Errorf("the append in flight at shutdown: %v; expected it cut, or its answer 503", r)
		}
		for _, l := range srv.logLines() {
			if l["status"] == float64(http.StatusInternalServerError) || strings.Contains(fmt.Sprint(l["error"]), "closed") {
				t.Errorf("the shutdown logged a failure of its own: %v", l)
			}
		}
		release()
		again := startServer(t, srv.StoreEnv...)
		if r := again.get(t, "/streams/"+stream); r.Status != http.StatusNotFound {
			t.Errorf("the stream of the append cut off by shutdown: GET answered %d; expected 404, nothing written", r.Status)
		}
	})
}
