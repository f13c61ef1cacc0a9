package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// fillDisk fills the tmpfs smallDisk mounted at dir (teststore.FillDisk).
func fillDisk(t *testing.T, dir string) (free func()) {
	t.Helper()
	return teststore.FillDisk(t, dir)
}

// TestAStartOnAFullDiskSaysTheFileSystemIsFull: a start, or `api migrate`
// or `api verify`, on a data directory whose file system has no room left
// failed with SQLite's bare "database unavailable: disk I/O error (4874)"
// (it could not make the -shm file), where the running service says the
// file system is full and that it passes once space is freed. A start
// must say the same: ErrFull and ErrDiskFull, naming the directory; once
// space is freed it starts, with every event written before (after a
// clean stop, or a crash that left the WAL).
func TestAStartOnAFullDiskSaysTheFileSystemIsFull(t *testing.T) {
	t.Parallel()
	for _, stop := range []string{"clean", "crash"} {
		t.Run(stop, func(t *testing.T) {
			t.Parallel()
			dir := smallDisk(t, "8m")
			data := filepath.Join(dir, "data")
			s := openMigrated(t, data)
			stream := uuid.New()
			appendEvents(t, s, stream, 20, 10_000)
			if stop == "crash" {
				// A copy of the files of a store that runs: its WAL, and
				// its lock file, are as a kill -9 leaves them.
				crashed := filepath.Join(dir, "crashed")
				if err := os.Mkdir(crashed, 0o750); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{sqlitestore.FileName, sqlitestore.FileName + "-wal", "tributary.lock"} {
					b, err := os.ReadFile(filepath.Join(data, name))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(crashed, name), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(data); err != nil {
					t.Fatal(err)
				}
				data = crashed
			} else if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			free := fillDisk(t, dir)
			s, err := sqlitestore.Open(t.Context(), data, sqlitestore.Options{})
			if err == nil {
				s.Close()
				t.Skip("the store opened on a full disk (it needed no new page): nothing to say")
			}
			if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) || errors.Is(err, eventstore.ErrStorageFailed) ||
				!strings.Contains(err.Error(), "the file system of "+data+" has no room left") || !strings.Contains(err.Error(), "start again") {
				t.Errorf("a start (%s stop before) on a full disk: %v; want ErrFull and ErrDiskFull, not ErrStorageFailed, saying the "+
					"file system of %s has no room left, and to free space and start again", stop, err, data)
			}

			free()
			s = openMigrated(t, data)
			t.Cleanup(func() { s.Close() })
			if read := streamLength(t, s, stream); read != 20 {
				t.Errorf("the start once space was freed reads %d events; want the 20 acknowledged", read)
			}
		})
	}
}

// TestAMigrationOnAFullDataDirectorySaysSo: a migration that makes an
// index, on a data directory with a little room left (the start's own
// files fit, the index does not), is tried on temporary files, then again
// in memory; its error blamed the temporary directory ("sorting on
// temporary files in /var/tmp … filled a file system") and told of
// appends that pass again, where what is full is the data directory and
// no server runs. It must say the file system of the data directory is
// full (ErrFull, ErrDiskFull), and that the migrations pass once space is
// freed there.
func TestAMigrationOnAFullDataDirectorySaysSo(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, "16m")
	s := openMigrated(t, dir)
	ctx := t.Context()
	beforeIndexMigrations(t, s, 20_000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Room for the start's own files (its -shm, 32 KiB), not the index.
	reserve := filepath.Join(dir, "reserve")
	if err := os.WriteFile(reserve, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	free := fillDisk(t, dir)
	if err := os.Remove(reserve); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("a start with 256 KiB of room: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Migrate(ctx)
	if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) ||
		!strings.Contains(err.Error(), "the file system of "+dir+" has no room left") || strings.Contains(err.Error(), "appends pass again") ||
		strings.Contains(err.Error(), "sorting on temporary files in") {
		t.Errorf("migrations making an index on a full data directory: %v; want ErrFull and ErrDiskFull, saying the file system of %s "+
			"has no room left, not blaming the temporary directory nor speaking of appends", err, dir)
	}
	free()
	if err := s.Migrate(ctx); err != nil {
		t.Errorf("the migrations once space was freed: %v; want them to pass", err)
	}
}
