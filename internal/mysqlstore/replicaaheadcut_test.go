package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAStartEndedWhileItLooksAgainAtAReplicaAheadIsRefusedAsAhead: a start
// waiting for a primary behind its read replica looks at both heads again
// each second; where the start-up timeout ended that look mid-query, the
// heads it had found were overwritten with the failed look's zeros, the
// replica taken for caught up, and the start failed on the next read with
// the context's end: no ErrReplicaAhead, none of its fix-it text.
func TestAStartEndedWhileItLooksAgainAtAReplicaAheadIsRefusedAsAhead(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	openMigrated(ctx, t, primary, Options{})
	replica := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, replica, Options{})
	setHead(ctx, t, replica, 2)
	cfg, err := mysql.ParseDSN(replica)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", replica)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	locker, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()

	// At the WARN, the replica's log_head is locked, so that the next look
	// at it waits; once it does, the start's context ends.
	octx, ocancel := context.WithCancel(ctx)
	defer ocancel()
	cut := make(chan error, 1)
	log := slog.New(&onWarn{has: "ahead of the primary", do: func() {
		if _, err := locker.ExecContext(ctx, "LOCK TABLES log_head WRITE"); err != nil {
			cut <- err
			ocancel()
			return
		}
		go func() {
			defer ocancel()
			for ctx.Err() == nil {
				var n int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%log_head%' AND STATE LIKE 'Waiting for table%'",
					cfg.DBName).Scan(&n); err != nil {
					cut <- err
					return
				}
				if n > 0 {
					cut <- nil
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}})
	s, err := Open(octx, primary, Options{ReadDSN: replica, Logger: log})
	if err == nil {
		s.Close()
		t.Fatal("a read DSN past the primary's head until the start ended opened; want the start refused")
	}
	select {
	case cerr := <-cut:
		if cerr != nil {
			t.Fatalf("locking the replica's log_head, or watching the look wait for it: %v", cerr)
		}
	case <-ctx.Done():
		t.Fatalf("the start ended (%v) before its look at the replica's head waited for the lock", err)
	}
	if !errors.Is(err, ErrReplicaAhead) || errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a start ended while it looked again at a replica past the primary's head: %v; want ErrReplicaAhead, as found last", err)
	}
}
