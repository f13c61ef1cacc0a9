package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestReadsNeverSeeAnAppendThatMayRollBackWhateverTheDSNsIsolation: a DSN
// (or a server) whose sessions run READ UNCOMMITTED must not let the
// store's reads see what another process's append transaction has written
// and not yet committed: a page, the head or a stream that a rollback then
// takes back, its positions reused by other events.
func TestReadsNeverSeeAnAppendThatMayRollBackWhateverTheDSNsIsolation(t *testing.T) {
	t.Parallel()
	params := []string{"tx_isolation=%27READ-UNCOMMITTED%27", "TX_ISOLATION=%27read-uncommitted%27"}
	for _, param := range params {
		t.Run(param, func(t *testing.T) {
			t.Parallel()
			ctx, base, s, _ := openWithParam(t, param)
			if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
				t.Fatal(err)
			}
			// Another process's append, between its writes and its COMMIT.
			db, err := sql.Open("mysql", base+"?parseTime=true")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			y := uuid.New()
			for _, q := range []struct {
				query string
				args  []any
			}{
				{"START TRANSACTION", nil},
				{"SELECT position FROM log_head WHERE id = 1 FOR UPDATE", nil},
				{"INSERT INTO streams (stream_id, stream_type, created_at) VALUES (?, 'thing', UTC_TIMESTAMP(6))", []any{y[:]}},
				{"INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at, batch_size) " +
					"VALUES (2, ?, ?, 1, 'thing', 'Happened', '{}', UTC_TIMESTAMP(6), 1)", []any{uuid.New().String()[:16], y[:]}},
				{"UPDATE log_head SET position = 2 WHERE id = 1", nil},
			} {
				if _, err := conn.ExecContext(ctx, q.query, q.args...); err != nil {
					t.Fatalf("%s: %v", q.query, err)
				}
			}
			t.Cleanup(func() { conn.ExecContext(context.Background(), "ROLLBACK") })
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if head, err := s.Head(rctx); err != nil || head != 1 {
				t.Errorf("DSN %s: the head read as %d (%v) while an append at 2 had not committed; want 1", param, head, err)
			}
			page, err := s.ReadAll(rctx, eventstore.ReadAllOptions{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for e, err := range page.Events {
				if err != nil {
					t.Fatal(err)
				}
				if e.Position != 1 {
					t.Errorf("DSN %s: a read of the log gave position %d of an append that had not committed", param, e.Position)
				}
			}
			if st, err := s.Stream(rctx, y); !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Errorf("DSN %s: a stream whose first append had not committed read as %+v (%v); want not found", param, st, err)
			}
		})
	}
}
