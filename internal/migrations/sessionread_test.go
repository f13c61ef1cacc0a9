package migrations_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartWhoseServerWillNotSayWhichSessionMigratesStillMigrates: a
// start reads the migration's session (its connection id in PROCESSLIST,
// its server's identity from SHOW GLOBAL VARIABLES) only to end the
// migration's statement on the server if the start is cut. Either read
// refused (a proxy's query rule, a MySQL-compatible server that filters
// them) failed every start with a migration to run (hostile review, F9).
// The start migrates now, with one WARN that a cut migration's statement
// would not be ended. A proxy answers each read with an error here.
func TestAStartWhoseServerWillNotSayWhichSessionMigratesStillMigrates(t *testing.T) {
	t.Parallel()
	latest := migrations.Latest("mysql")
	for _, refused := range []string{"information_schema.PROCESSLIST", "SHOW GLOBAL VARIABLES"} {
		t.Run(refused, func(t *testing.T) {
			t.Parallel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			var answered atomic.Int64
			proxy.AnswerInstead(func(chunk []byte) bool {
				if !bytes.Contains(chunk, []byte(refused)) {
					return false
				}
				answered.Add(1)
				return true
			}, mysqltest.ErrorPacket(1148, "The used command is not allowed (query rule)"))
			db := openMySQL(t, dsn)
			var logs testlog.Buffer
			if err := migrations.ApplyMySQL(t.Context(), db, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatalf("a start whose server refuses %s: %v; want the schema migrated; log:\n%s", refused, err, logs.String())
			}
			if answered.Load() == 0 {
				t.Fatalf("the start never read %s: the test did not refuse what it names", refused)
			}
			if got := recorded(t, db); len(got) != latest+1 {
				t.Fatalf("versions recorded by a start whose server refuses %s: %v; want 0 to %d", refused, got, latest)
			}
			const said = "a migration cut by the start-up timeout or a signal will not have its statement ended on the server"
			if n := strings.Count(logs.String(), said); n != 1 || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("a start whose server refuses %s: the WARN %q logged %d times, want once:\n%s", refused, said, n, logs.String())
			}
		})
	}
}
