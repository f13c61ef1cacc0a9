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

// TestANewLogWhoseFirstMigrationStoppedPartwayIsWarnedOfWhenItIsCompleted:
// `api migrate` on an empty database, as a user who may CREATE but not
// ALTER nor INDEX, made the first tables and the version table and was
// refused at the first ALTER, saying the database "holds the store's tables
// of an earlier release" (that run had made them); granted ALTER and INDEX,
// the next run completed the schema without the "no log found … a new one
// was created" warning, because the version table was there when it began
// (as after a first start cut by SIGTERM in its migrations), and a server
// then served a brand-new log at position 1 in silence. The refusal says
// that the database holds no log yet, and the run that completes the new
// log warns of it, once; a start on the completed log does not.
// On the shared server: a user of this test's own, granted on its database alone.
func TestANewLogWhoseFirstMigrationStoppedPartwayIsWarnedOfWhenItIsCompleted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	root := otherProcessDB(t, dsn)
	const pw = "nl-S3cret-pw"
	user := "nlc_" + cfg.DBName[len(cfg.DBName)-12:]
	grant := func(q string) {
		t.Helper()
		if _, err := root.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	grant("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'")
	t.Cleanup(func() {
		if _, err := root.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'"); err != nil {
			t.Errorf("drop the test's user %s: %v", user, err)
		}
	})
	grant("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON `" + cfg.DBName + "`.* TO '" + user + "'@'%'")
	c := cfg.Clone()
	c.User, c.Passwd = user, pw
	userDSN := c.FormatDSN()

	migrate := func() (string, error) {
		t.Helper()
		var out testlog.Buffer
		s, err := mysqlstore.Open(ctx, userDSN, mysqlstore.Options{Logger: slog.New(slog.NewJSONHandler(&out, nil)), MigrateOnly: true})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		err = s.Migrate(ctx)
		return out.String(), err
	}
	_, err = migrate()
	if err == nil {
		t.Fatal("a migration by a user who may not ALTER nor INDEX: succeeded; want it refused at the first ALTER")
	}
	if strings.Contains(err.Error(), "earlier release") || !strings.Contains(err.Error(), "CREATE, ALTER and INDEX") {
		t.Errorf("the refused first migration of an empty database: %v; want it to say the database holds no log yet, not tables of an earlier release", err)
	}
	grant("GRANT ALTER, INDEX ON `" + cfg.DBName + "`.* TO '" + user + "'@'%'")
	out, err := migrate()
	if err != nil {
		t.Fatalf("the migration once ALTER and INDEX were granted: %v", err)
	}
	if n := strings.Count(out, "no log found"); n != 1 || !strings.Contains(out, "database "+cfg.DBName) {
		t.Errorf("the migration that completed the new log the first one left partway logged %d \"no log found\" lines: %s; want one, naming database %s", n, out, cfg.DBName)
	}
	if out, err := migrate(); err != nil || strings.Contains(out, "no log found") {
		t.Errorf("a migration of the completed log: %v, %s; want no word of a new log", err, out)
	}
}
