package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestALeastPrivilegeUserIsToldHowToMigrateAndMayRunMigrate: the README's
// least-privilege serving user (SELECT, INSERT, UPDATE) starting on an
// empty database got the driver's raw 1142 ("CREATE command denied … for
// table schema_migrations") under doubled words (the operator tester's
// F5). The error says the database has none of the store's tables yet,
// that creating them needs CREATE, ALTER and INDEX, and to run `api
// migrate` once with an owner's DSN. And a user who may only SELECT, on a
// schema that is up to date, may run the migration alone (MigrateOnly, as
// `api migrate` opens it): the check that the user may write what the
// store writes is serving's, which migrating does not need. On the shared
// server: users of this test's own, granted on its database alone.
func TestALeastPrivilegeUserIsToldHowToMigrateAndMayRunMigrate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "lp-S3cret-pw"
	userDSN := func(tag, grants string) string {
		t.Helper()
		user := tag + "_" + cfg.DBName[len(cfg.DBName)-12:]
		root := otherProcessDB(t, dsn)
		for _, q := range []string{"CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'", "GRANT " + grants + " ON `" + cfg.DBName + "`.* TO '" + user + "'@'%'"} {
			if _, err := root.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		t.Cleanup(func() {
			if _, err := root.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'"); err != nil {
				t.Errorf("drop the test's user %s: %v", user, err)
			}
		})
		c := cfg.Clone()
		c.User, c.Passwd = user, pw
		return c.FormatDSN()
	}

	serving := userDSN("lpw", "SELECT, INSERT, UPDATE")
	s, err := mysqlstore.Open(ctx, serving, mysqlstore.Options{})
	if err != nil {
		t.Fatalf("open with the serving user: %v", err)
	}
	err = s.Migrate(ctx)
	s.Close()
	refusedAtStart(t, err, "a first start on an empty database by a user who may not CREATE", pw,
		"has none of the store's tables yet", "CREATE, ALTER and INDEX", "api migrate", cfg.DBName)

	openCounted(t, dsn) // migrated by its owner
	reader := userDSN("lpr", "SELECT")
	s, err = mysqlstore.Open(ctx, reader, mysqlstore.Options{MigrateOnly: true})
	if err != nil {
		t.Fatalf("open with a user who may only SELECT, to migrate: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Errorf("migrate an up-to-date schema with a user who may only SELECT (MigrateOnly): %v; want nothing to do, and no check of its writes", err)
	}
}
