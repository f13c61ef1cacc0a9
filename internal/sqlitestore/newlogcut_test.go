package sqlitestore_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestANewLogWhoseFirstStartStoppedBeforeItsMigrationsIsWarnedOfWhenItIsCompleted:
// a first start made the database file, warned "no log found; a new one was
// created", and was stopped (SIGTERM) before its migrations completed. The
// next start found the file, so made none and said nothing, and completed a
// brand-new log at position 1 in silence, as the MySQL store's did (a first
// migration stopped partway). The start that completes a log the file holds
// none of yet warns, once; a start on the completed log does not.
func TestANewLogWhoseFirstStartStoppedBeforeItsMigrationsIsWarnedOfWhenItIsCompleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil { // stopped before Migrate
		t.Fatal(err)
	}
	start := func() string {
		t.Helper()
		var out testlog.Buffer
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewJSONHandler(&out, nil))})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return out.String()
	}
	out := start()
	if n := strings.Count(out, "no log found"); n != 1 || !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, sqlitestore.FileName) {
		t.Errorf("the start that completed the new log a first one left unmigrated logged %d \"no log found\" lines: %s; want one WARN naming the file", n, out)
	}
	if out := start(); strings.Contains(out, "no log found") {
		t.Errorf("a start on the completed log: %s; want no word of a new log", out)
	}
}
