package sqlitestore_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/readonlytemp"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// inReadOnlyTemp is set in the environment of this package's test binary
// run again by a test in a namespace where no temporary directory is
// writable (readonlytemp), to the data directory it may write.
const inReadOnlyTemp = "SQLITESTORE_TEST_READONLY_TEMP_DATA"

// TestNoWritableTemporaryDirectoryIsAStorageFailureThatSaysSo: where SQLite
// finds no writable directory for a temporary file (a read-only root file
// system; the store's connections keep theirs in memory, so this test
// writes them to files again on the writer's connection), its error was
// "disk I/O error (6410)" and an outage like any other, retried forever.
// It must be eventstore.ErrStorageFailed (and ErrUnavailable), saying that
// SQLite found no writable directory for its temporary files.
func TestNoWritableTemporaryDirectoryIsAStorageFailureThatSaysSo(t *testing.T) {
	data := os.Getenv(inReadOnlyTemp)
	if data == "" {
		t.Parallel()
		data = t.TempDir()
		cmd := exec.Command(readonlytemp.Script(t, data, os.Args[0]), "-test.run=^TestNoWritableTemporaryDirectoryIsAStorageFailureThatSaysSo$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), inReadOnlyTemp+"="+data)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("the test in a namespace with no writable temporary directory: %v; expected it to pass:\n%s", err, out)
		}
		return
	}
	ctx := t.Context()
	s, err := sqlitestore.Open(ctx, data, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "PRAGMA temp_store = FILE"); err != nil {
		t.Fatal(err)
	}
	events := make([]eventstore.NewEvent, 50)
	for i := range events {
		events[i] = eventstore.NewEvent{ID: uuid.New(), Type: "Happened", Data: []byte(`{"p":"` + strings.Repeat("x", 40_000) + `"}`)}
	}
	_, err = s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "s", Events: events})
	if !errors.Is(err, eventstore.ErrStorageFailed) || !errors.Is(err, eventstore.ErrUnavailable) ||
		!strings.Contains(err.Error(), "no writable directory for its temporary files") {
		t.Fatalf("an append of 50 events of 40 KB with no writable temporary directory: %v; expected ErrStorageFailed and "+
			"ErrUnavailable, saying SQLite found no writable directory for its temporary files", err)
	}
}
