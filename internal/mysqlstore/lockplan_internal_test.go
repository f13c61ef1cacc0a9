package mysqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestTheLockStatementsReadNoTableWhole: the statements that take the log's
// lock also name events and streams, only to take their table locks; a
// join the server does not resolve to one key would read, and lock, every
// row of the log in every append (a join ON FALSE did: 7 ms an append at
// 6,000 events). EXPLAIN must show no full scan of any table.
func TestTheLockStatementsReadNoTableWhole(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := mysqltest.NewMigratedDB(t, func(cfg *mysql.Config) { cfg.InterpolateParams = true })
	for i := range 50 {
		id, stream := uuid.New(), uuid.New()
		if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
			"VALUES (?, ?, ?, 1, 't', 'T', '{}', NOW(6))", i+1, id[:], stream[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO streams VALUES (?, 't', NOW(6))", stream[:]); err != nil {
			t.Fatal(err)
		}
	}
	last := uuid.New()
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"LockHead":        {dialect.LockHead, nil},
		"GuardedLockHead": {dialect.GuardedLockHead, []any{int64(50), last[:]}},
		"leaseLockHead":   {leaseLockHead, nil},
	} {
		rows, err := db.QueryContext(ctx, "EXPLAIN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			plan := map[string]string{}
			for i, c := range cols {
				plan[c] = vals[i].String
			}
			if plan["type"] == "ALL" || plan["type"] == "index" {
				t.Errorf("%s reads table %s whole (type %s): %v", name, plan["table"], plan["type"], plan)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
