package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadinessCheckWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne:
// Ping's statements (/readyz) were sent once: a pooled session the server
// or a proxy closed while it sat idle, which the driver's check did not
// see, failed its statement with the driver's invalid connection, and
// /readyz flapped to 503 for it, as the reads no longer do (sqlstore's
// eachRow). Each is sent once more on a fresh session.
func TestAReadinessCheckWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := openMigrated(ctx, t, dsn, Options{})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for _, c := range []struct {
		name, statement string
	}{
		{"the tables", "durability_fence, events st FORCE INDEX"},
		{"the columns", "information_schema.COLUMNS"},
		{"the head", "COALESCE((SELECT MAX(e.position) FROM events e), 0)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := proxy.CutAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte(c.statement)) })
			err := s.Ping(ctx)
			select {
			case <-cut:
			case <-ctx.Done():
				t.Fatalf("the proxy cut no statement of the ping (%v): the test's match is wrong", err)
			}
			if err != nil {
				t.Errorf("ping with its connection cut once its statement on %s went out: %v; want it answered on a fresh connection", c.name, err)
			}
		})
	}
}

// TestTheReplicasLagWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne:
// the replica's lag (/readyz, the lag metric) read the replica's head, its
// last event and its replication status once: a pooled session closed
// while idle, unseen by the driver's check, made /readyz flap to 503.
// Each is sent once more on a fresh session.
func TestTheReplicasLagWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	direct := cfg.Clone()
	direct.Addr = proxy.Target()
	primary := openMigrated(ctx, t, direct.FormatDSN(), Options{})
	if _, err := primary.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "e", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	feed, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { feed.Close() })
	s := &Store{log: slog.New(slog.DiscardHandler), replica: cfg, feed: feed, primary: primary.primary, cfg: primary.cfg}
	if _, err := s.ReplicaLag(ctx); err != nil {
		t.Fatalf("replica lag: %v", err)
	}
	for _, c := range []struct {
		name, statement string
	}{
		{"the head", "SELECT position FROM log_head WHERE id = 1"},
		{"the last event", "SELECT event_id FROM events WHERE position = ?"},
		{"the status", "SHOW REPLICA STATUS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := proxy.CutAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte(c.statement)) })
			_, err := s.ReplicaLag(ctx)
			select {
			case <-cut:
			case <-ctx.Done():
				t.Fatalf("the proxy cut no statement of the lag's (%v): the test's match is wrong", err)
			}
			if err != nil {
				t.Errorf("the replica's lag with its connection cut once its statement on %s went out: %v; want it answered on a fresh connection", c.name, err)
			}
		})
	}
}
