// Package mysqltest gives each test a database of its own on the MySQL or
// MariaDB server named by TRIBUTARY_TEST_MYSQL_DSN (default: root without a
// password on 127.0.0.1:3306), dropped when the test ends.
//
// When the variable is set the server must answer, or the test fails; when it
// is unset and no local server answers, the test is skipped.
//
// A test that needs a server of other settings, or one it may kill, starts
// a mariadbd of its own instead (Server, StartServer).
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/migrations"
)

// EnvDSN names the variable holding the server to test against.
const EnvDSN = "TRIBUTARY_TEST_MYSQL_DSN"

const defaultDSN = "root@tcp(127.0.0.1:3306)/"

// NewDatabase creates a uniquely named, empty database and returns a DSN for
// it. The database is dropped at the end of the test.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn, required := os.LookupEnv(EnvDSN)
	if !required || dsn == "" {
		dsn, required = defaultDSN, false
	}
	return newDatabase(t, dsn, required)
}

// NewDatabaseOn is NewDatabase on the server of serverDSN (StartServer's),
// which must answer.
func NewDatabaseOn(t testing.TB, serverDSN string) string {
	t.Helper()
	return newDatabase(t, serverDSN, true)
}

func newDatabase(t testing.TB, dsn string, required bool) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Addr, err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		if !required {
			t.Skipf("no MySQL/MariaDB at %s (%v); set %s to run this test", cfg.Addr, err, EnvDSN)
		}
		t.Fatalf("%s is set but %s does not answer: %v", EnvDSN, cfg.Addr, err)
	}

	var b [6]byte
	rand.Read(b[:])
	name := "tributary_test_" + hex.EncodeToString(b[:])
	// A database name cannot be a placeholder; this one is made of hex digits here.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

// NewDatabaseBehindProxy is NewDatabase reached through a fault proxy: the
// DSN it returns connects through p, which the test can cut and restore to
// take the database away and give it back.
func NewDatabaseBehindProxy(t testing.TB) (dsn string, p *faultproxy.Proxy) {
	t.Helper()
	cfg, err := mysql.ParseDSN(NewDatabase(t))
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	p = faultproxy.Start(t, cfg.Addr)
	cfg.Addr = p.Addr()
	return cfg.FormatDSN(), p
}

// NewMigratedDB is NewDatabase with the newest schema applied, opened
// straight through the driver with configure's changes to its DSN (nil:
// none), and closed at the end of the test: for tests and benchmarks that
// send the store's SQL themselves.
func NewMigratedDB(t testing.TB, configure func(*mysql.Config)) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(NewDatabase(t))
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	if configure != nil {
		configure(cfg)
	}
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open %s: %v", cfg.DBName, err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate %s: %v", cfg.DBName, err)
	}
	return db
}

// SendsCommit reports whether a chunk a client sends the server holds a
// COMMIT statement: for faultproxy's CutAfter and HoldAfter. The word
// alone: a writer's connection sends transaction_isolation='READ-COMMITTED'
// as it connects, which a test cutting "the round trip with COMMIT" must not
// cut instead.
func SendsCommit(chunk []byte) bool { return commitWord.Match(chunk) }

var commitWord = regexp.MustCompile(`(?i)\bCOMMIT\b`)

// ErrorPacket is the MySQL protocol's answer to a client's request that
// refuses it with error number and message (SQLSTATE HY000): for
// faultproxy's AnswerInstead, standing for a proxy or server that refuses a
// statement. It is the first packet of the answer (sequence id 1), as the
// answer to a command is.
func ErrorPacket(number uint16, message string) []byte {
	payload := append([]byte{0xff, byte(number), byte(number >> 8), '#'}, "HY000"+message...)
	return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), 1}, payload...)
}

// HoldMigrationLock takes the migration lock of dsn's database
// (migrations.LockName) on a session of its own, as another instance's
// migration would, holds it until the test ends, and returns the
// session's connection id.
func HoldMigrationLock(t testing.TB, dsn string) int64 {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	holder, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	var id int64
	var got int
	if err := holder.QueryRowContext(context.Background(), "SELECT CONNECTION_ID(), GET_LOCK("+migrations.LockName+", 0)").Scan(&id, &got); err != nil || got != 1 {
		t.Fatalf("take the migration lock as another session: %d, %v", got, err)
	}
	return id
}

// HoldMetadataLock opens a transaction that reads table on a session of
// its own, holding the table's metadata lock as a long read would, so that
// DDL on it (a migration's CREATE INDEX) waits. release ends the
// transaction; the session is closed at the test's end.
func HoldMetadataLock(t testing.TB, db *sql.DB, table string) (release func()) {
	t.Helper()
	holder, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	for _, q := range []string{"BEGIN", "SELECT COUNT(*) FROM " + table} {
		if _, err := holder.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("hold %s's metadata lock: %s: %v", table, q, err)
		}
	}
	return func() {
		if _, err := holder.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Errorf("let %s's metadata lock go: %v", table, err)
		}
	}
}

// OpenDirect opens dsn, a DSN NewDatabaseBehindProxy returned, straight to
// the server p stands before, so that the test can look and act on the
// database while p stalls or cuts the service's connections. It is closed
// at the end of the test.
func OpenDirect(t testing.TB, dsn string, p *faultproxy.Proxy) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	cfg.Addr = p.Target()
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SchemaBeforeLastMigration gives db the schema of the release before the
// last migration: every migration applied, then the last one's index
// dropped and its row deleted. It returns the last migration's version,
// the one a start on db then runs.
func SchemaBeforeLastMigration(t testing.TB, db *sql.DB) int64 {
	t.Helper()
	ctx := context.Background()
	latest := int64(migrations.Latest("mysql"))
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP INDEX events_stream_type_event_type_position ON events", "DELETE FROM " + migrations.VersionTable + " WHERE version_id = " + strconv.FormatInt(latest, 10)} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("undo migration %d: %s: %v", latest, q, err)
		}
	}
	return latest
}
