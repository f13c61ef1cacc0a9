package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaWithoutTheDatabaseIsNotToldToMigrate: a read replica that
// has no database of the read DSN's name was told, as a primary whose
// database was dropped is, to "create it and run `api migrate`": advice
// that is wrong there (migrate migrates the primary) and harmful (tables
// made on a replica by hand break its replication). It is now told that
// the replica lacks the database and must replicate the primary's.
func TestAReplicaWithoutTheDatabaseIsNotToldToMigrate(t *testing.T) {
	t.Parallel()
	primary := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName += "_not_replicated" // on the same server: no such database
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: cfg.FormatDSN()})
	if err == nil {
		s.Close()
		t.Fatalf("Open with a read replica that has no database %s: it opened; want a refusal", cfg.DBName)
	}
	msg := err.Error()
	for _, want := range []string{"read replica", "TRIBUTARY_MYSQL_READ_DSN", "no database " + cfg.DBName, "replicat"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Open with a read replica that has no database %s: %v; want an error holding %q", cfg.DBName, err, want)
		}
	}
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Open with a read replica that has no database %s: %v; want an error wrapping ErrUnavailable (a replica being set up gets it: the start waits)", cfg.DBName, err)
	}
	if strings.Contains(msg, "api migrate") || strings.Contains(msg, "create it") {
		t.Errorf("Open with a read replica that has no database %s: %v; want no advice to create it or run `api migrate` there", cfg.DBName, err)
	}
}
