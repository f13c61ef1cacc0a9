package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestMigrateNeedsNoWritePrivilegeOnAnUpToDateSchema: `api migrate` with a
// user who may only SELECT, on a schema already up to date, logged "schema
// is up to date" and then failed on the check that the user may write what
// an append writes, which serving needs and a migration does not (the
// operator tester's F5). It succeeds. On the shared server: a user of this
// test's own, granted on its database alone, dropped at its end.
func TestMigrateNeedsNoWritePrivilegeOnAnUpToDateSchema(t *testing.T) {
	ctx := context.Background()
	var cfg *mysql.Config
	db := mysqltest.NewMigratedDB(t, func(c *mysql.Config) { cfg = c.Clone() })
	name := cfg.DBName
	user := "mig_" + name[len(name)-12:]
	for _, q := range []string{"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'mig-pw'", "GRANT SELECT ON `" + name + "`.* TO '" + user + "'@'%'"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'"); err != nil {
			t.Errorf("drop the test's user: %v", err)
		}
	})
	cfg.User, cfg.Passwd = user, "mig-pw"
	migrateLogged(t, map[string]string{"TRIBUTARY_MYSQL_DSN": cfg.FormatDSN()})
}

// TestAnEmbeddedLogBesideAMySQLDSNAndANewMySQLLogAreWarnedOf: an operator
// moving from the embedded store to MySQL, its log left in
// TRIBUTARY_DATA_DIR, started on an empty database without a word that the
// log there is not served, nor that a new, empty one was made in MySQL (the
// operator tester's F10). Both are warned of, naming the file and the
// database.
func TestAnEmbeddedLogBesideAMySQLDSNAndANewMySQLLogAreWarnedOf(t *testing.T) {
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tributary.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var embedded, created bool
	for _, l := range migrateLogged(t, map[string]string{"TRIBUTARY_MYSQL_DSN": dsn, "TRIBUTARY_DATA_DIR": dir}) {
		msg := fmt.Sprint(l["msg"])
		embedded = embedded || l["level"] == "WARN" && strings.Contains(msg, filepath.Join(dir, "tributary.db")) && strings.Contains(msg, "not served")
		created = created || l["level"] == "WARN" && strings.Contains(msg, "no log found in database "+cfg.DBName)
	}
	if !embedded || !created {
		t.Errorf("a start with a MySQL DSN on an empty database, an embedded log in %s: warned of the embedded log %t, of the new MySQL log %t; want both", dir, embedded, created)
	}
}
