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
