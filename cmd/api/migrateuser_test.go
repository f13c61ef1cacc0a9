package main

import (
	"context"
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
