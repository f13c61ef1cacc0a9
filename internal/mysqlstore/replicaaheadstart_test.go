package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaAheadOfThePrimaryAtStartIsWaitedFor: a read replica found past
// the primary's head at start was refused at once, the start failing,
// where /readyz, finding it so while serving, waits it out (503, checked
// again): briefly so in a failover (a primary promoted still applying
// what the replica already has), and the orchestrator's restarts became a
// crash loop. The start now warns and looks again, until its context ends
// (the start-up timeout): a primary that catches up is started with; one
// that does not is refused as before, with ErrReplicaAhead, no
// ErrUnavailable.
func TestAReplicaAheadOfThePrimaryAtStartIsWaitedFor(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	openMigrated(ctx, t, primary, Options{})
	replica := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, replica, Options{})
	// The replica's head two past the primary's (no event there to compare).
	setHead(ctx, t, replica, 2)

	// Never caught up: the start, told to end once it warned, is refused.
	warned := make(chan struct{})
	octx, ocancel := context.WithCancel(ctx)
	defer ocancel()
	log := slog.New(&onWarn{has: "ahead of the primary", do: func() { close(warned); ocancel() }})
	s, err := Open(octx, primary, Options{ReadDSN: replica, Logger: log})
	if err == nil {
		s.Close()
		t.Fatal("a read DSN past the primary's head until the start ended opened; want the start refused")
	}
	select {
	case <-warned:
	default:
		t.Errorf("a read DSN past the primary's head: refused (%v) with no WARN that the start waits for the primary", err)
	}
	if !errors.Is(err, ErrReplicaAhead) || errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Errorf("a read DSN past the primary's head until the start ended: %v; want ErrReplicaAhead, not ErrUnavailable nor the context's end", err)
	}

	// Caught up once the start warned: it starts.
	var catching sync.WaitGroup
	log = slog.New(&onWarn{has: "ahead of the primary", do: func() {
		catching.Go(func() { setHead(ctx, t, primary, 2) })
	}})
	s, err = Open(ctx, primary, Options{ReadDSN: replica, Logger: log})
	catching.Wait()
	if err != nil {
		t.Fatalf("a read DSN past the primary's head, the primary catching up while the start waited: %v; want it opened", err)
	}
	s.Close()
}

// setHead sets the log's head of the database at dsn, behind the store's back.
func setHead(ctx context.Context, t *testing.T, dsn string, position int64) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", position); err != nil {
		t.Error(err)
	}
}

// onWarn is a log handler that calls do once, at the first WARN whose
// message has has, and drops every record.
type onWarn struct {
	has  string
	do   func()
	once sync.Once
}

func (h *onWarn) Enabled(context.Context, slog.Level) bool { return true }
func (h *onWarn) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.Contains(r.Message, h.has) {
		h.once.Do(h.do)
	}
	return nil
}
func (h *onWarn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onWarn) WithGroup(string) slog.Handler      { return h }
