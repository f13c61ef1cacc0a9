package sqlitestore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestACommitWhoseIndexCouldNotGrowOnAFullDiskSaysTheDiskIsFull: a COMMIT
// whose frames went into the WAL (room there was already allocated) but
// whose WAL index could not grow (SQLITE_IOERR_SHMSIZE: the -shm file needs
// a new 32 KiB region each 4,096 frames, and the file system has no room
// left) is of unknown outcome; it was answered with SQLite's bare "disk
// I/O error (4874)", where the store says of that same error on any other
// statement that the file system of the data directory has no room left
// (ErrFull, ErrDiskFull). A read transaction held open keeps the WAL from
// being restarted, so that it reaches the index's second region.
func TestACommitWhoseIndexCouldNotGrowOnAFullDiskSaysTheDiskIsFull(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "64m")
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()

	stream := uuid.New()
	frames := teststore.WALShortOfItsIndexEdge(t, s, dir, stream)

	for i := range 400 {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`"d"`)}}})
		if err == nil {
			continue
		}
		if !errors.Is(err, eventstore.ErrOutcomeUnknown) {
			t.Fatalf("append %d after the disk filled, the WAL at %d frames: %v; want of unknown outcome (its index could not grow)", i, frames(), err)
		}
		if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) || !strings.Contains(err.Error(), "the file system of "+dir) {
			t.Errorf("a COMMIT whose WAL index could not grow on a full disk: %v; want of unknown outcome, and ErrFull and ErrDiskFull, "+
				"naming the file system of %s", err, dir)
		}
		return
	}
	t.Fatalf("400 appends after the disk filled all passed, the WAL at %d frames; want one whose index could not grow", frames())
}
