//go:build linux

package teststore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// MountTmpfs mounts a tmpfs with options (mount's: "size=8m",
// "size=8m,nr_inodes=64") in a new directory and returns it; it is
// unmounted when the test ends, after the stores the test opened in it are
// closed. The test is skipped where this process may not mount one (not
// root, or a container without the capability): a file system of its own
// is the only way to fill a disk without filling the machine's.
func MountTmpfs(t testing.TB, options string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
		t.Skipf("a full disk needs a small file system of its own, and this process may not mount a tmpfs (%v): run the test as root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the test's tmpfs %s: %v", dir, err)
		}
	})
	return dir
}

// FillDisk fills the file system of dir (a tmpfs MountTmpfs mounted) to its
// last page, with files whose names begin with "filler-", and returns what
// frees it again, which also runs when the test ends.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	var made []string
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 1} {
		for {
			name := filepath.Join(dir, fmt.Sprintf("filler-%d", len(made)))
			err := os.WriteFile(name, make([]byte, size), 0o600)
			if err == nil {
				made = append(made, name)
				continue
			}
			os.Remove(name)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	free = func() {
		for _, name := range made {
			os.Remove(name)
		}
		made = nil
	}
	t.Cleanup(free)
	return free
}

// WALShortOfItsIndexEdge readies s, an embedded store in a tmpfs
// (MountTmpfs) at dir, for a COMMIT whose WAL index cannot grow
// (SQLITE_IOERR_SHMSIZE: the -shm file needs a new 32 KiB region each 4,096
// frames): a read held open until the test ends keeps the WAL from being
// restarted; small appends to stream (of type t) bring it a little short of the index's
// first region's 4,062 frames; room for the frames of the appends to come
// is allocated beyond the WAL's end (its size unchanged), and the rest of
// the disk filled. It returns what counts the WAL's frames. The test is
// skipped where the file system cannot allocate beyond a file's end.
func WALShortOfItsIndexEdge(t testing.TB, s *sqlitestore.Store, dir string, stream uuid.UUID) (frames func() int64) {
	t.Helper()
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
	walPath := s.Path() + "-wal"
	frames = func() int64 {
		b, err := os.ReadFile(walPath)
		if err != nil || len(b) < 32 {
			t.Fatalf("read the WAL: %v", err)
		}
		return (int64(len(b)) - 32) / (24 + int64(binary.BigEndian.Uint32(b[8:12])))
	}
	for frames() < 3900 {
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`"` + strings.Repeat("d", 20) + `"`)}}}); err != nil {
			t.Fatal(err)
		}
	}
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
	FillDisk(t, dir)
	return frames
}
