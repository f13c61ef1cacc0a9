package sqlitestore_test

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAStopWithTheWALRemovedAndACheckpointHeldUpKeepsItsCommits: with
// tributary.db-wal removed while the server ran, its 503s say to stop the
// server cleanly, which copies the WAL's commits into the database file,
// and to start it again. Where another program's read transaction held
// that copy up (an sqlite3 shell still open), the stop left the commits
// after the reader's snapshot in the removed WAL alone, said nothing, and
// recorded a clean stop: a start, once that program was gone without its
// own checkpoint (killed, or a power cut), served a log short of
// acknowledged appends and handed their positions out again. The stop
// must write the removed WAL back beside the file, say so, and the start
// must serve every acknowledged append.
func TestAStopWithTheWALRemovedAndACheckpointHeldUpKeepsItsCommits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	appendN(t, s, 1)
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	tx, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 2) // after the reader's snapshot: head 3
	if err := os.Remove(s.Path() + "-wal"); err != nil {
		t.Fatal(err)
	}
	err = s.Close()
	if err == nil || !strings.Contains(err.Error(), sqlitestore.FileName+"-wal") {
		t.Errorf("a stop with the WAL removed and its copy into the file held up by a reader: %v; want an error naming %s-wal, where its commits are", err, sqlitestore.FileName)
	}

	// As the directory is once the other program is gone without its
	// own checkpoint: what the stop left on disk.
	image := t.TempDir()
	for _, name := range []string{sqlitestore.FileName, sqlitestore.FileName + "-wal", "tributary.lock"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(image, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	head, err := headOf(t.Context(), image)
	if err != nil || head != 3 {
		t.Errorf("a start after that stop, the other program gone without its checkpoint: head %d (%v); want 3, every acknowledged append", head, err)
	}
}
