package sqlitestore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
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
	return mountTmpfs(t, "size="+size)
}

// mountTmpfs is smallDisk with the tmpfs's mount options (size=…,nr_inodes=…).
func mountTmpfs(t *testing.T, options string) string {
	t.Helper()
	return teststore.MountTmpfs(t, options)
}

// growDisk makes the tmpfs smallDisk mounted at dir size large, as an
// operator who frees space would.
func growDisk(t *testing.T, dir, size string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size); err != nil {
		t.Fatalf("grow the test's tmpfs to %s: %v", size, err)
	}
}

// bigAppends returns a new stream and an append to it of one event of
// 100 KB in s.
func bigAppends(t *testing.T, s *sqlitestore.Store) (uuid.UUID, func() error) {
	t.Helper()
	stream := uuid.New()
	data := []byte(`"` + strings.Repeat("x", 100_000) + `"`)
	return stream, func() error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Big", Data: data}}})
		return err
	}
}

// appendUntilRefused calls one up to n times, until it fails: it returns
// how many passed and the error (nil where every one passed).
func appendUntilRefused(one func() error, n int) (int, error) {
	acknowledged := 0
	for range n {
		if err := one(); err != nil {
			return acknowledged, err
		}
		acknowledged++
	}
	return acknowledged, nil
}

// streamLength reads stream in s and returns how many events it holds.
func streamLength(t *testing.T, s *sqlitestore.Store, stream uuid.UUID) int {
	t.Helper()
	page, err := s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 1000})
	read := 0
	if err == nil {
		for _, err = range page.Events {
			if err != nil {
				break
			}
			read++
		}
	}
	if err != nil {
		t.Fatalf("read of the stream: %v", err)
	}
	return read
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
	stream, one := bigAppends(t, s)
	acknowledged, err := appendUntilRefused(one, 200) // 20 MB: far past the disk's 8
	if err == nil {
		t.Fatalf("200 appends of 100 KB all passed on an 8 MB disk")
	}
	for i := range 3 {
		if i > 0 {
			err = one()
		}
		// ErrDiskFull: the 503's detail then speaks of the file system, not
		// of MySQL's tablespace.
		if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) || !errors.Is(err, eventstore.ErrUnavailable) ||
			strings.Contains(err.Error(), "overwritten") || !strings.Contains(err.Error(), "file system of "+dir+" is full") {
			t.Fatalf("append %d after %d on a full disk: %v; want ErrUnavailable, ErrFull and ErrDiskFull, saying the database is full, "+
				"that the file system of %s is full, and not overwritten", i+1, acknowledged, err, dir)
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
	if read := streamLength(t, s, stream); read != acknowledged {
		t.Errorf("the stream holds %d events; want the %d acknowledged", read, acknowledged)
	}
}

// TestACheckpointTriedAgainUpToTheSameFrameOnAFullDiskIsNotAnOverwrite: a
// reader beside the store holds the WAL's frames from the one the failed
// checkpoint was to copy up to, so each commit's checkpoint tries again up
// to that same frame, recording nothing new, and writes the file further
// each time the disk has a little more room: that too is SQLite's, not a
// copy over the file.
func TestACheckpointTriedAgainUpToTheSameFrameOnAFullDiskIsNotAnOverwrite(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "8m")
	s := teststore.OpenSQLite(t, dir)
	big := []byte(`"` + strings.Repeat("x", 100_000) + `"`)
	appendOf := func(data []byte) error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: data}}})
		return err
	}
	var err error
	for range 200 {
		if err = appendOf(big); err != nil {
			break
		}
	}
	if !errors.Is(err, eventstore.ErrFull) {
		t.Fatalf("appends of 100 KB on an 8 MB disk ended with %v; want ErrFull", err)
	}

	// A read transaction beside the store: it holds every frame of the WAL
	// as it is now, which each checkpoint from here copies up to.
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reader, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	if _, err := reader.ExecContext(t.Context(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := reader.QueryRowContext(t.Context(), "SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}

	for _, size := range []string{"9m", "10m", "11m"} { // each time a little room, less than the checkpoint needs
		growDisk(t, dir, size)
		for range 5 {
			err := appendOf([]byte(`{}`))
			if err != nil && (!errors.Is(err, eventstore.ErrFull) || strings.Contains(err.Error(), "overwritten")) {
				t.Fatalf("an append on a disk of %s with a checkpoint tried again: %v; want it to pass, or ErrFull, never overwritten", size, err)
			}
		}
	}
	if _, err := reader.ExecContext(t.Context(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	growDisk(t, dir, "64m")
	if err := appendOf([]byte(`{}`)); err != nil {
		t.Fatalf("an append once the disk has room again: %v; want it to pass", err)
	}
}

// TestAStopOnAFullDiskSaysTheWALHoldsAcknowledgedAppends: a stop copies the
// WAL into the database file and removes it; on a full disk the copy fails,
// and the WAL, with appends acknowledged since the last checkpoint, is left
// beside the file. The stop said nothing and reported a clean stop: an
// operator who then moved or copied the file alone lost them. Its Close must
// fail, saying the WAL holds acknowledged appends and must be kept with the
// file, and log nothing of it (a WARN beside the binary's stderr said it
// twice); the next start, with room, finds every one.
func TestAStopOnAFullDiskSaysTheWALHoldsAcknowledgedAppends(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "8m")
	var logged bytes.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	stream, one := bigAppends(t, s)
	acknowledged, err := appendUntilRefused(one, 200)
	if !errors.Is(err, eventstore.ErrFull) {
		t.Fatalf("appends of 100 KB on an 8 MB disk ended with %v; want ErrFull", err)
	}

	err = s.Close()
	wal := sqlitestore.FileName + "-wal"
	if err == nil || !errors.Is(err, eventstore.ErrFull) || !strings.Contains(err.Error(), wal+" holds acknowledged appends") {
		t.Errorf("close on a full disk: %v; want an error wrapping ErrFull saying %s holds acknowledged appends", err, wal)
	}
	// Said once, by the caller (the binary writes it to stderr): the store
	// logged it as a WARN too, and a stop wrote it twice.
	if strings.Contains(logged.String(), "holds acknowledged appends") {
		t.Errorf("the log of a stop on a full disk:\n%s\nwant nothing of the error Close returns: its caller says it, once", logged.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, wal)); err != nil || fi.Size() == 0 {
		t.Fatalf("after a stop on a full disk, %s: %v; want it left, not empty", wal, err)
	}

	growDisk(t, dir, "64m")
	s = teststore.OpenSQLite(t, dir)
	if read := streamLength(t, s, stream); read != acknowledged {
		t.Errorf("the next start's stream holds %d events; want the %d acknowledged", read, acknowledged)
	}
}
