package sqlitestore_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
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

	reader, err := sql.Open("sqlite", "file:"+s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	conn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.ExecContext(context.Background(), "ROLLBACK"); conn.Close() }) //nolint:errcheck // the test's end
	var n int
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_head").Scan(&n); err != nil {
		t.Fatal(err)
	}

	// The WAL up to a little short of the index's first region's 4,062
	// frames, one small append at a time.
	walPath := s.Path() + "-wal"
	frames := func() int64 {
		b, err := os.ReadFile(walPath)
		if err != nil || len(b) < 32 {
			t.Fatalf("read the WAL: %v", err)
		}
		return (int64(len(b)) - 32) / (24 + int64(binary.BigEndian.Uint32(b[8:12])))
	}
	stream := uuid.New()
	for frames() < 3900 {
		appendEvents(t, s, stream, 1, 20)
	}
	// Room for the frames of the appends to come, allocated beyond the
	// WAL's end (its size unchanged), and none for anything else.
	wal, err := os.OpenFile(walPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := wal.Stat()
	if err == nil {
		err = syscall.Fallocate(int(wal.Fd()), 1 /* FALLOC_FL_KEEP_SIZE */, fi.Size(), 4<<20)
	}
	wal.Close()
	if err != nil {
		t.Skipf("allocate room beyond the WAL's end: %v", err)
	}
	fillDisk(t, dir)

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
