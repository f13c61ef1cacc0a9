package sqlitestore_test

import (
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/readonlytemp"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// inReadOnlyTempMigrate is inReadOnlyTemp for
// TestAnIndexMigrationSortsOnTemporaryFilesOrInMemoryWhereNoneCanBeMade.
const inReadOnlyTempMigrate = "SQLITESTORE_TEST_READONLY_TEMP_MIGRATE"

// TestAnIndexMigrationSortsOnTemporaryFilesOrInMemoryWhereNoneCanBeMade: a
// migration that makes an index on a log sorted all its keys in memory
// (temp_store=MEMORY on every connection), about 130 MB per million
// events. It sorts on temporary files; where SQLite finds no writable
// directory for them (here, a namespace with none: a read-only root file
// system), the migration is applied again sorting in memory, saying so,
// and passes. Its log line shows temporary files were tried first: in
// memory, SQLite looks for no directory.
func TestAnIndexMigrationSortsOnTemporaryFilesOrInMemoryWhereNoneCanBeMade(t *testing.T) {
	data := os.Getenv(inReadOnlyTempMigrate)
	if data == "" {
		t.Parallel()
		data = t.TempDir()
		cmd := exec.Command(readonlytemp.Script(t, data, os.Args[0]), "-test.run=^TestAnIndexMigrationSortsOnTemporaryFilesOrInMemoryWhereNoneCanBeMade$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), inReadOnlyTempMigrate+"="+data)
		passesAgain(t, cmd, "the test in a namespace with no writable temporary directory")
		return
	}
	said, err := indexMigrationsAgain(t, data)
	if err != nil {
		t.Fatalf("migrations 11 and 12 on 100,000 events with no writable temporary directory: %v; want it to pass, sorting in memory", err)
	}
	if !strings.Contains(said, "migrating again with them in memory") {
		t.Errorf("the migration's log:\n%s\nwant a line saying it found no writable temporary directory and migrated again in memory "+
			"(temporary files tried first)", said)
	}
}

const smallTemp = "SQLITESTORE_TEST_SMALL_TEMP_MIGRATE"

// TestAnIndexMigrationPassesWithASmallTemporaryDirectory: a container
// whose temporary directory is small (an emptyDir tmpfs with a sizeLimit,
// as with readOnlyRootFilesystem), here 256 KiB via SQLITE_TMPDIR. Sorting
// an index's keys on temporary files there failed the migration with
// SQLite's bare "database or disk is full", where sorting in memory had
// passed: it is applied again in memory, the log naming the directory,
// what chose it and the room the sort needs.
func TestAnIndexMigrationPassesWithASmallTemporaryDirectory(t *testing.T) {
	data := os.Getenv(smallTemp)
	if data == "" {
		if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
			t.Skipf("needs unshare --mount: %v %s", err, out)
		}
		data = t.TempDir()
		tiny := t.TempDir()
		script := "mount -t tmpfs -o size=256k tmpfs \"$TINY\" && SQLITE_TMPDIR=\"$TINY\" TMPDIR=\"$TINY\" exec \"$PROG\" -test.run='^TestAnIndexMigrationPassesWithASmallTemporaryDirectory$' -test.count=1 -test.v"
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
		cmd.Env = append(os.Environ(), smallTemp+"="+data, "TINY="+tiny, "PROG="+os.Args[0])
		passesAgain(t, cmd, "with a 256 KiB temporary directory")
		return
	}
	said, err := indexMigrationsAgain(t, data)
	if err != nil {
		t.Fatalf("migrations 11 and 12 on 100,000 events, temporary directory of 256 KiB: %v\nlog:\n%s", err, said)
	}
	for _, want := range []string{"migrating again with its temporary files in memory", "temporary_directory=" + os.Getenv("TINY"),
		"chosen_by=SQLITE_TMPDIR", "room_needed=\"about 2 MB for 100000 events"} {
		if !strings.Contains(said, want) {
			t.Errorf("the migration's log:\n%s\nwant it to say %q: the temporary directory full, which one and what chose it, the room the sort needs, "+
				"and the migration applied again in memory", said, want)
		}
	}
}

// beforeIndexMigrations takes the migrated store s back to before
// migrations 11 and 12 (an index, and the events' checksums) with a log of
// n events, whose index's keys are past what SQLite sorts in memory; it
// closes s and fails t where it cannot.
func beforeIndexMigrations(t *testing.T, s *sqlitestore.Store, n int) {
	t.Helper()
	for _, q := range []string{
		"DROP INDEX events_stream_type_event_type_position",
		"ALTER TABLE events DROP COLUMN checksum",
		"DELETE FROM schema_migrations WHERE version_id IN (11, 12)",
		`INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at)
		 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(n) + `)
		 SELECT i, CAST(printf('e%015d', i) AS BLOB), CAST(printf('s%015d', i) AS BLOB), 1, 'stream-type-' || (i % 20),
		 'SomethingHappened' || (i % 50), '{}', '2026-01-01 00:00:00' FROM n`,
	} {
		if err := s.Exec(t.Context(), q); err != nil {
			s.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// indexMigrationsAgain opens a store in data, migrates it, takes it back
// to before migrations 11 and 12 with a log of 100,000 events (whose
// index's keys are past what SQLite sorts without a temporary file) and
// migrates it again: it returns what the store logged in that migration
// and its error.
func indexMigrationsAgain(t *testing.T, data string) (string, error) {
	t.Helper()
	ctx := t.Context()
	var logs testlog.Buffer
	s, err := sqlitestore.Open(ctx, data, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	beforeIndexMigrations(t, s, 100_000)
	before := len(logs.String())
	err = s.Migrate(ctx)
	return logs.String()[before:], err
}

// passesAgain runs cmd, this package's test binary run again for one test
// (where), and fails t unless that test passed.
func passesAgain(t *testing.T, cmd *exec.Cmd, where string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("%s: %v; want it to pass:\n%s", where, err, out)
	}
}
