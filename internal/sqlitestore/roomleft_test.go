package sqlitestore_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartRemovesARoomProbeLeftByAKill: after SQLite's I/O error on a
// write the store writes a file of its own in the data directory
// (.tributary-room-*) and removes it; a process killed between the two
// left it there, up to 64 KiB, and no start removed it. A start must.
func TestAStartRemovesARoomProbeLeftByAKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := teststore.OpenSQLite(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, ".tributary-room-1234567")
	if err := os.WriteFile(left, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	teststore.OpenSQLite(t, dir)
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a start beside a room probe left by a killed process: stat %s: %v; want it removed", left, err)
	}
}

// TestAStartRemovesARoomProbeLeftByAKillInADirectoryNamedAsAPattern: the
// start found the probes left with filepath.Glob of the data directory's
// path, so in a directory whose name holds a pattern's characters
// ("data[1]", "a*b") it removed none of its own, and those of a directory
// the pattern named instead ("data1"). It must remove its own, and only
// those.
func TestAStartRemovesARoomProbeLeftByAKillInADirectoryNamedAsAPattern(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir, other := filepath.Join(parent, "data[1]"), filepath.Join(parent, "data1")
	if err := os.Mkdir(other, 0o750); err != nil {
		t.Fatal(err)
	}
	s := teststore.OpenSQLite(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left, others := filepath.Join(dir, ".tributary-room-1234567"), filepath.Join(other, ".tributary-room-7654321")
	for _, name := range []string{left, others} {
		if err := os.WriteFile(name, make([]byte, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	teststore.OpenSQLite(t, dir)
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a start in %s beside a room probe left by a killed process: stat %s: %v; want it removed", dir, left, err)
	}
	if _, err := os.Stat(others); err != nil {
		t.Errorf("a start in %s: stat %s, another directory's: %v; want it left", dir, others, err)
	}
}
