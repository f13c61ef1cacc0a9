// Package teststore opens fresh, migrated stores of every kind Tributary runs
// on, for tests: a MySQL store on a database of its own (see mysqltest) and an
// SQLite store in a directory of its own, each closed when the test ends.
//
// It is the one place that knows how a test gets a store: the conformance
// suite's backends, the HTTP and fan-out tests' stores and the end-to-end
// tests' choice of store all come from here. A package that
// mysqlstore or sqlitestore imports for its own internal tests cannot use it.
package teststore

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// Kind is one kind of store: how a test opens a fresh one in its own process,
// and how the api binary is told to serve one.
//
// Its Backend has no BeforeCommit: the hook into an append transaction is a
// seam of the store's own tests (export_test.go), which set it before they
// run the conformance suite.
type Kind struct {
	Name string
	storetest.Backend
	// ServerEnv is the api binary's settings that select this kind of store;
	// the end-to-end tests add a fresh database or directory to them. Its
	// capacity is its length, so appending to it makes a copy.
	ServerEnv []string
}

// MySQL is the MySQL/MariaDB store, each on a fresh database.
var MySQL = Kind{
	Name: "mysql",
	Backend: storetest.Backend{
		Open:      func(t testing.TB) eventstore.Store { return OpenMySQL(t, mysqltest.NewDatabase(t)) },
		OpenAgain: func(t *testing.T, s eventstore.Store) eventstore.Store { return OpenMySQL(t, dsnOf(t, s)) },
		Exec: func(t *testing.T, s eventstore.Store, query string, args ...any) {
			t.Helper()
			exec(t, "mysql", dsnOf(t, s), query, args...)
		},
		DropIndex: "DROP INDEX %s ON events",
	},
	ServerEnv: nil, // the binary's default; the tests name a fresh database
}

// SQLite is the embedded store, each in a fresh directory.
var SQLite = Kind{
	Name: "sqlite",
	Backend: storetest.Backend{
		Open: func(t testing.TB) eventstore.Store { return OpenSQLite(t, t.TempDir()) },
		Exec: func(t *testing.T, s eventstore.Store, query string, args ...any) {
			t.Helper()
			exec(t, "sqlite", s.(*sqlitestore.Store).Path()+"?_pragma=busy_timeout(5000)", query, args...)
		},
		DropIndex:            "DROP INDEX %s",
		VisibleInCommitOrder: true,
	},
	ServerEnv: []string{"TRIBUTARY_MYSQL_DSN="}, // no MySQL: the embedded store (the end-to-end tests' command leaves it unset: the binary refuses it set but empty)
}

// ForEach runs fn once for each kind of store, as parallel subtests named
// for the kind.
func ForEach(t *testing.T, fn func(t *testing.T, k Kind)) {
	t.Helper()
	for _, k := range []Kind{MySQL, SQLite} {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, k)
		})
	}
}

// ForEachSerial runs fn once for each kind of store, one after the other,
// as subtests named for the kind: for tests that count what the process
// holds (heap, goroutines), which a parallel subtest would blur.
func ForEachSerial(t *testing.T, fn func(t *testing.T, k Kind)) {
	t.Helper()
	for _, k := range []Kind{MySQL, SQLite} {
		t.Run(k.Name, func(t *testing.T) { fn(t, k) })
	}
}

// openTimeout bounds opening and migrating one store.
const openTimeout = 60 * time.Second

// dsns maps each MySQL store opened here to its DSN, for OpenAgain and Exec.
var dsns sync.Map // *mysqlstore.Store → string

// OpenCounted opens a fresh store of kind k, as its Open does, that counts
// what it does (appends, group commits, statements) in m.
func OpenCounted(t testing.TB, k Kind, m *metrics.Metrics) eventstore.Store {
	t.Helper()
	if k.Name == MySQL.Name {
		return openMySQL(t, mysqltest.NewDatabase(t), m)
	}
	return openSQLite(t, t.TempDir(), m)
}

// OpenMySQL opens and migrates a store on the database named by dsn, and
// closes it at cleanup. Several stores on one dsn are as several processes.
func OpenMySQL(t testing.TB, dsn string) *mysqlstore.Store {
	t.Helper()
	return openMySQL(t, dsn, nil)
}

func openMySQL(t testing.TB, dsn string, m *metrics.Metrics) *mysqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Metrics: m})
	if err != nil {
		t.Fatalf("open MySQL store: %v", err)
	}
	dsns.Store(s, dsn)
	t.Cleanup(func() {
		dsns.Delete(s)
		if err := s.Close(); err != nil {
			t.Errorf("close MySQL store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate MySQL store: %v", err)
	}
	return s
}

// OpenSQLite opens and migrates a store in dir, and closes it at cleanup.
func OpenSQLite(t testing.TB, dir string) *sqlitestore.Store {
	t.Helper()
	return openSQLite(t, dir, nil)
}

func openSQLite(t testing.TB, dir string, m *metrics.Metrics) *sqlitestore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{Metrics: m})
	if err != nil {
		t.Fatalf("open SQLite store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close SQLite store: %v", err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate SQLite store: %v", err)
	}
	return s
}

// dsnOf is the DSN a MySQL store of OpenMySQL was opened on.
func dsnOf(t testing.TB, s eventstore.Store) string {
	t.Helper()
	ms, _ := s.(*mysqlstore.Store)
	dsn, ok := dsns.Load(ms)
	if !ok {
		t.Fatalf("%T was not opened by teststore.OpenMySQL, or is closed", s)
	}
	return dsn.(string)
}

// exec runs one statement on the database behind the store's back.
func exec(t testing.TB, driver, dsn, query string, args ...any) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Statements returns how many statements of kind m has counted
// (tributary_db_statements_total), as /metrics shows them.
func Statements(t testing.TB, m *metrics.Metrics, kind string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	prefix := `tributary_db_statements_total{kind="` + kind + `"} `
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %q: %v", line, err)
			}
			return int(n)
		}
	}
	return 0
}
