package sqlitestore_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// smallDisk mounts a tmpfs of size (as mount's size= option, "8m") in a
// new directory and returns it; it is unmounted when the test ends, after
// the stores the test opened in it are closed. The test is skipped where
// this process may not mount one (not root, or a container without the
// capability): a file system of its own is the only way to fill a disk
// without filling the machine's.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("a full disk needs a small file system of its own, and this process may not mount a tmpfs (%v): run the test as root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the test's tmpfs %s: %v", dir, err)
		}
	})
	return dir
}

// growDisk makes the tmpfs smallDisk mounted at dir size large, as an
// operator who frees space would.
func growDisk(t *testing.T, dir, size string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size); err != nil {
		t.Fatalf("grow the test's tmpfs to %s: %v", size, err)
	}
}

// TestADiskFullDuringACheckpointIsFullAndAppendsComeBackOnceThereIsRoom:
// on an 8 MB file system, events of 100 KB appended one at a time fill the
// WAL past SQLite's checkpoint (1,000 pages), which copies the WAL into the
// database file and runs out of room part way: the file has grown, but the
// WAL index does not record the checkpoint. The look for a file overwritten
// beside SQLite took that for a copy over the file, and every append after
// it, and the readiness probe, failed saying so, telling the operator to put
// a copy back and remove the WAL (which held the acknowledged appends); and
// it stuck until a restart, whatever space was freed. Appends must fail as
// the database being full, never overwritten, and pass again, by
// themselves, once the disk has room; every append acknowledged is there.
func TestADiskFullDuringACheckpointIsFullAndAppendsComeBackOnceThereIsRoom(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "8m")
	s := teststore.OpenSQLite(t, dir)
	stream := uuid.New()
	data := []byte(`"` + strings.Repeat("x", 100_000) + `"`)
	one := func() error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Big", Data: data}}})
		return err
	}
	acknowledged := 0
	var err error
	for range 200 { // 20 MB: far past the disk's 8
		if err = one(); err != nil {
			break
		}
		acknowledged++
	}
	if err == nil {
		t.Fatalf("200 appends of 100 KB all passed on an 8 MB disk")
	}
	for i := range 3 {
		if i > 0 {
			err = one()
		}
		if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrUnavailable) || strings.Contains(err.Error(), "overwritten") {
			t.Fatalf("append %d after %d on a full disk: %v; want ErrUnavailable and ErrFull, saying the database is full, not overwritten",
				i+1, acknowledged, err)
		}
	}
	if err := s.Ping(t.Context()); err != nil && strings.Contains(err.Error(), "overwritten") {
		t.Errorf("ping on a full disk: %v; want no word of the file being overwritten", err)
	}

	growDisk(t, dir, "64m")
	if err := one(); err != nil {
		t.Fatalf("an append once the disk has room again: %v; want it to pass without a restart", err)
	}
	acknowledged++
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("ping once the disk has room again: %v", err)
	}
	page, err := s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, err := range page.Events {
		if err != nil {
			t.Fatalf("read of the stream: %v", err)
		}
		read++
	}
	if read != acknowledged {
		t.Errorf("the stream holds %d events; want the %d acknowledged", read, acknowledged)
	}
}
