package mysqlstore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAFirstStartOnAnEmptyDatabaseWarnsThatANewLogWasCreated: a first start
// on an empty database (a mistyped database name that exists, one dropped
// and made again) made a new log at position 1 with INFO lines alone,
// where the embedded store warns (the operator tester's F10): clients that
// saw the old log's positions would take the new one's for them. It warns
// once, naming the database and its server; a start on the log it made
// does not.
func TestAFirstStartOnAnEmptyDatabaseWarnsThatANewLogWasCreated(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var first testlog.Buffer
	openLogged(t, dsn, slog.New(slog.NewJSONHandler(&first, nil)))
	var warned []string
	for line := range strings.Lines(first.String()) {
		if strings.Contains(line, "no log found") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"level":"WARN"`) || !strings.Contains(warned[0], "database "+cfg.DBName) ||
		!strings.Contains(warned[0], cfg.Addr) || !strings.Contains(warned[0], "stop") {
		t.Errorf("a first start on an empty database logged %q; want one WARN line saying no log was found in database %s at %s, and to stop if one was expected", warned, cfg.DBName, cfg.Addr)
	}
	var again testlog.Buffer
	openLogged(t, dsn, slog.New(slog.NewJSONHandler(&again, nil)))
	if strings.Contains(again.String(), "no log found") {
		t.Errorf("a start on the log made before: %s; want no word of a new log", again.String())
	}
}

// TestAMigrationOnAnEmptyDatabaseWarnsWithoutAServerToStop: `api migrate`
// (MigrateOnly) on an empty database makes a new log too, and warned as a
// server's start does, "stop the server now", where no server runs. It
// warns once, naming the database and its server, and says to start no
// server on it where a log was expected.
func TestAMigrationOnAnEmptyDatabaseWarnsWithoutAServerToStop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var out testlog.Buffer
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: slog.New(slog.NewJSONHandler(&out, nil)), MigrateOnly: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var warned []string
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "no log found") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], `"level":"WARN"`) || !strings.Contains(warned[0], "database "+cfg.DBName) ||
		!strings.Contains(warned[0], cfg.Addr) || strings.Contains(warned[0], "stop the server") || !strings.Contains(warned[0], "start no server") {
		t.Errorf("a migration of an empty database logged %q; want one WARN line saying no log was found in database %s at %s, "+
			"and to start no server on it if one was expected (no server to stop)", warned, cfg.DBName, cfg.Addr)
	}
}
