package sqlitestore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// crashedOnSmallDisk appends n events of 50 KB, one commit each, marked
// WALMARK01…, and puts the crash image of the store (crashImage) on a tmpfs
// with room for it and half its WAL more, but not for a copy of the WAL. It
// returns the directory, the WAL's bytes and the crashed run's head. With
// inodes > 0 the tmpfs holds that many files and directories at most.
func crashedOnSmallDisk(t *testing.T, n, inodes int) (dir string, wal []byte, head int64) {
	t.Helper()
	s := openMigrated(t, t.TempDir())
	filler := strings.Repeat("x", 50_000)
	for i := range n {
		data := []byte(fmt.Sprintf(`{"mark":"WALMARK%02d","filler":"%s"}`, i+1, filler))
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	image := crashImage(t, s)
	var total int64
	files := map[string][]byte{}
	for _, name := range []string{sqlitestore.FileName, sqlitestore.FileName + "-wal", "tributary.lock"} {
		b, err := os.ReadFile(filepath.Join(image, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
		total += int64(len(b))
	}
	wal = files[sqlitestore.FileName+"-wal"]
	// Room for the files, SQLite's -shm, and half the WAL more: a start
	// that copies the WAL runs out of room part way.
	size := total + int64(len(wal))/2 + 256<<10
	options := "size=" + strconv.FormatInt(size/4096*4096, 10)
	if inodes > 0 {
		options += ",nr_inodes=" + strconv.Itoa(inodes)
	}
	dir = mountTmpfs(t, options)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatalf("put the crash image on the small disk: %v", err)
		}
	}
	return dir, wal, head
}

// TestAStartAfterACrashOnADiskWithNoRoomForACopyOfItsWALServesEveryCommit:
// a start keeps a copy of the WAL it finds (tributary.db-wal.start) while
// it checks the log. On a disk that served fine but had less free space
// than the WAL (an operator's tester: 84 % full, a 4.2 MB WAL), every start
// after a crash failed with a bare "copy_file_range: no space left on
// device", though nothing but the copy needed the room. The start must
// serve every commit the crashed run made, and leave no copy behind.
func TestAStartAfterACrashOnADiskWithNoRoomForACopyOfItsWALServesEveryCommit(t *testing.T) {
	t.Parallel()
	dir, _, head := crashedOnSmallDisk(t, 30, 0)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a crash on a disk with room for the files but not a copy of the WAL: %v; expected it to serve", err)
	}
	defer s.Close()
	if got, err := s.Head(t.Context()); err != nil || got != head {
		t.Errorf("the head after the start: %d, %v; expected the crashed run's %d", got, err, head)
	}
	if _, err := os.Lstat(filepath.Join(dir, sqlitestore.FileName+"-wal.start")); !os.IsNotExist(err) {
		t.Errorf("the start's copy of the WAL after it served: %v; expected it gone", err)
	}
}

// TestARefusedStartOnADiskWithNoRoomForACopyOfItsWALLeavesItAsItFoundIt:
// TestARefusedStartLeavesADamagedWALAsItFoundIt on a disk without room for
// a copy of the WAL: the start that cannot copy it must keep it some other
// way, or not start; it must never refuse having folded the WAL's good
// frames into the file and deleted it, the commits after the bad frame with it.
func TestARefusedStartOnADiskWithNoRoomForACopyOfItsWALLeavesItAsItFoundIt(t *testing.T) {
	t.Parallel()
	dir, b, _ := crashedOnSmallDisk(t, 30, 0)
	damageThirdCommitAndExpectRefused(t, dir, b)
	if _, err := os.Lstat(filepath.Join(dir, sqlitestore.FileName+"-wal.start")); !os.IsNotExist(err) {
		t.Errorf("the start's copy of the WAL after it was refused: %v; expected it gone (put back)", err)
	}
}

// TestAStartThatCanKeepItsWALNeitherWaySaysTheDiskIsFullAndHowMuchItNeeds:
// on a file system with no room even for a second name of the WAL (here a
// tmpfs out of inodes), the start is refused. It said only "copy_file_range:
// no space left on device"; it must say, as the README does, that the data
// directory's file system is full, and how much the copy needs, and leave
// the WAL as it was, to start once there is room. Its error wraps the
// store's ErrFull and ErrDiskFull, as Open's doc promises of a start that
// could not write for want of room (it wrapped ENOSPC alone).
func TestAStartThatCanKeepItsWALNeitherWaySaysTheDiskIsFullAndHowMuchItNeeds(t *testing.T) {
	t.Parallel()
	dir, b, head := crashedOnSmallDisk(t, 30, 4) // the directory and its three files
	_, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	need := strconv.Itoa(len(b)) + " bytes"
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "the data directory's file system is full") ||
		!strings.Contains(err.Error(), "free "+need) {
		t.Fatalf("Open after a crash with no room to keep its WAL: %v; expected ENOSPC, saying the data directory's file system is full "+
			"and to free %s", err, need)
	}
	if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) {
		t.Errorf("Open after a crash with no room to keep its WAL: %v; expected it to wrap eventstore.ErrFull and ErrDiskFull", err)
	}
	after, err := os.ReadFile(filepath.Join(dir, sqlitestore.FileName+"-wal"))
	if err != nil || !bytes.Equal(after, b) {
		t.Fatalf("the WAL after the start was refused: %d bytes, %v; expected the %d bytes it held", len(after), err, len(b))
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "nr_inodes=100"); err != nil {
		t.Fatalf("give the test's tmpfs room: %v", err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open once there is room: %v; expected it to serve", err)
	}
	defer s.Close()
	if got, err := s.Head(t.Context()); err != nil || got != head {
		t.Errorf("the head after the start: %d, %v; expected the crashed run's %d", got, err, head)
	}
}
