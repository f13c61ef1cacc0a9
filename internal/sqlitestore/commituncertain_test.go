package sqlitestore_test

import (
	"testing"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestACommitThatFailedToSyncIsOfUnknownOutcome: in WAL mode a COMMIT whose
// sync of the WAL failed (SQLITE_IOERR_FSYNC), or whose frames could not
// be added to the WAL's index, left the commit's frames in the WAL file,
// where a crash before the next commit lets the next start recover them:
// of unknown outcome (sqlstore's Dialect.CommitUncertain), never "not
// written". A failed write of the frames (SQLITE_IOERR_WRITE, SQLITE_FULL)
// never wrote the commit's last frame, which marks it (the unix VFS pads
// no frame after it), and a busy or locked database never wrote: not
// written (TestAWriteErrorWithNoRoomLeftIsFullAndPassesOnceThereIsRoom
// fails a real write so).
func TestACommitThatFailedToSyncIsOfUnknownOutcome(t *testing.T) {
	for _, c := range []struct {
		name      string
		code      int
		uncertain bool
	}{
		{"SQLITE_IOERR_FSYNC", sqlite3.SQLITE_IOERR_FSYNC, true},
		{"SQLITE_IOERR_DIR_FSYNC", sqlite3.SQLITE_IOERR_DIR_FSYNC, true},
		{"SQLITE_IOERR_SHMSIZE", sqlite3.SQLITE_IOERR_SHMSIZE, true},
		{"SQLITE_IOERR_SHMMAP", sqlite3.SQLITE_IOERR_SHMMAP, true},
		{"SQLITE_IOERR_WRITE", sqlite3.SQLITE_IOERR_WRITE, false},
		{"SQLITE_IOERR_TRUNCATE", sqlite3.SQLITE_IOERR_TRUNCATE, false},
		{"SQLITE_IOERR", sqlite3.SQLITE_IOERR, true},
		{"SQLITE_FULL", sqlite3.SQLITE_FULL, false},
		{"SQLITE_BUSY", sqlite3.SQLITE_BUSY, false},
		{"SQLITE_LOCKED", sqlite3.SQLITE_LOCKED, false},
		{"SQLITE_CONSTRAINT_UNIQUE", sqlite3.SQLITE_CONSTRAINT_UNIQUE, false},
		{"no SQLite error", 0, false},
	} {
		if got := sqlitestore.CommitUncertainCode(c.code); got != c.uncertain {
			t.Errorf("a COMMIT that failed with %s: of unknown outcome %t; want %t", c.name, got, c.uncertain)
		}
	}
}
