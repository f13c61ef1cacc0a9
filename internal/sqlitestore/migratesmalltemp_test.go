package sqlitestore_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/testlog"
)

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
	ctx := t.Context()
	var logs testlog.Buffer
	s := beforeIndexMigrations(t, data, &logs)
	before := len(logs.String())
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrations 11 and 12 on 100,000 events, temporary directory of 256 KiB: %v\nlog:\n%s", err, logs.String())
	}
	said := logs.String()[before:]
	for _, want := range []string{"migrating again with its temporary files in memory", "temporary_directory=" + os.Getenv("TINY"),
		"chosen_by=SQLITE_TMPDIR", "room_needed=\"about 2 MB for 100000 events"} {
		if !strings.Contains(said, want) {
			t.Errorf("the migration's log:\n%s\nwant it to say %q: the temporary directory full, which one and what chose it, the room the sort needs, "+
				"and the migration applied again in memory", said, want)
		}
	}
}
