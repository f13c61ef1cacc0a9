package mysqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestOnAServerLoggingStatementsTheStoreWritesRows: a server whose binary
// log is on with binlog_format=STATEMENT. InnoDB refuses every write of a
// READ COMMITTED session there (error 1665: a statement cannot be logged
// as it ran), and the store's sessions all run READ COMMITTED: its
// migration failed (as "missing zero version migration"), and so would
// every append, with a 500. And a statement a replica replays must give it
// what the primary has, which SYSDATE() (the time of the guarded head's
// UPDATE) does not. The store must log its writes as rows (binlog_format
// ROW on its sessions): it migrates, its appends go, by either way, and
// the binary log carries its writes to events and log_head as rows, which
// a replica applies as they are. A user who may not set it is refused at
// start-up, told the ways out.
func TestOnAServerLoggingStatementsTheStoreWritesRows(t *testing.T) {
	t.Parallel()
	// With its grant tables, for a user without the privilege.
	server := mysqltest.StartServer(t, "--log-bin=binlog", "--server-id=1", "--sync-binlog=1", "--binlog-format=STATEMENT", "--skip-grant-tables=0")
	t.Run("AUserWhoMayNotLogRowsIsRefusedAtStartUp", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dsn := mysqltest.NewDatabaseOn(t, server)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		user := "writer_" + cfg.DBName[len(cfg.DBName)-12:]
		root := otherProcessDB(t, server)
		for _, q := range []string{"CREATE USER '" + user + "'@'127.0.0.1'", "GRANT ALL ON " + cfg.DBName + ".* TO '" + user + "'@'127.0.0.1'"} {
			if _, err := root.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		cfg.User = user
		s, err := mysqlstore.Open(ctx, cfg.FormatDSN(), mysqlstore.Options{})
		if err == nil {
			s.Close()
			t.Fatal("expected Open to refuse a user who may not set binlog_format on a server logging statements, it opened")
		}
		for _, want := range []string{"binlog_format=STATEMENT", "binlog_format=ROW", "BINLOG ADMIN"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("expected the refusal to say %q, got %v", want, err)
			}
		}
	})
	t.Run("AStoreWritesRows", func(t *testing.T) {
		t.Parallel()
		testStoreWritesRows(t, mysqltest.NewDatabaseOn(t, server))
	})
}

// testStoreWritesRows appends on dsn's database, by both ways, and looks
// at how the binary log holds the writes.
func testStoreWritesRows(t *testing.T, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, m := openCounted(t, dsn)
	x := uuid.New()
	appendVersions(ctx, t, s, x, 3)
	if teststore.Statements(t, m, "guard_head") == 0 {
		t.Errorf("expected some appends to go in one round trip (the guarded head's UPDATE)")
	}
	var format string
	if err := s.WritesPool().QueryRowContext(ctx, "SELECT @@SESSION.binlog_format").Scan(&format); err != nil || format != "ROW" {
		t.Errorf("the writer's sessions log as %q (%v), want ROW", format, err)
	}
	db := otherProcessDB(t, dsn)
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN 'binlog.000001'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	rowEvents := 0
	for rows.Next() {
		values := make([]any, len(cols))
		var kind, info string
		for i, c := range cols {
			switch c {
			case "Event_type":
				values[i] = &kind
			case "Info":
				values[i] = &info
			default:
				values[i] = new(any)
			}
		}
		if err := rows.Scan(values...); err != nil {
			t.Fatal(err)
		}
		q := strings.ToUpper(info)
		if kind == "Query" && (strings.Contains(q, "INSERT INTO EVENTS") || strings.Contains(q, "LOG_HEAD SET")) {
			t.Errorf("the binary log holds the store's write as a statement, which a replica replays for itself: %.200s", info)
		}
		if strings.Contains(kind, "_rows") {
			rowEvents++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if rowEvents == 0 {
		t.Errorf("expected the appends' writes in the binary log as rows, found no row event")
	}
}
