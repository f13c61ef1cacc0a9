package sqlitestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A start reads the database through its WAL, and SQLite's close of its
// last connection folds the WAL's frames into the database file and
// deletes the WAL. So a start that is refused, the log short of the head a
// crashed run recorded because a frame of its WAL went bad (each frame's
// checksum covers those before it: SQLite replays none after a bad one),
// deleted the very file its refusal was about, the commits after the bad
// frame with it, with nothing left for an operator to mend. A start keeps
// a copy of the WAL it finds until it is done: a refused start puts it
// back as it was; one that serves drops it.

// A disk with less free space than the WAL, which serves fine, has no room
// for that copy. There the start keeps the WAL by a second name instead (a
// hard link, which needs no room for its bytes): a refused start writes
// nothing into the WAL (its only write, checkWritable's, is rolled back,
// and SQLite writes a WAL only as a transaction commits), and SQLite's close
// then only checkpoints the good frames into the database file and removes
// the WAL's name, leaving its bytes under the other. The copy stays the
// first choice, as it holds the bytes whatever SQLite does; a start that
// can keep the WAL neither way is refused, saying how much room it needs.

// startWALSuffix names the copy, beside the database file.
const startWALSuffix = "-wal.start"

// keepStartWAL copies the WAL of the database file at path, if there is
// one, beside it, or where the file system has no room for a copy links it
// there, and returns the copy's path ("" if there is no WAL) and the WAL's
// file info. Where it can
// do neither for lack of room, its error wraps syscall.ENOSPC (or EDQUOT),
// and eventstore.ErrFull and ErrDiskFull, as Open's other errors for want
// of room do.
func keepStartWAL(path string) (string, fs.FileInfo, error) {
	wal := path + "-wal"
	fi, err := os.Stat(wal)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	kept := path + startWALSuffix
	// A copy left by a start that was killed may be a second name of the
	// WAL: truncating it, to write it anew, would empty the WAL.
	if err := os.Remove(kept); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	err = copyWAL(wal, kept)
	if err == nil {
		return kept, fi, nil
	}
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return "", nil, err
	}
	lerr := os.Link(wal, kept)
	if lerr == nil {
		return kept, fi, nil
	}
	return "", nil, fmt.Errorf("%w: %w: the data directory's file system is full, or a quota on it used up (%w): this start keeps a copy of %s (%d bytes), "+
		"which holds the commits of the run that did not stop cleanly, until it has checked the log, so that a refused start "+
		"leaves it as it found it, and it could neither copy it nor link it (%w); free %d bytes there and start again",
		eventstore.ErrUnavailable, errFileSystemFull, err, wal, fi.Size(), lerr, fi.Size())
}

// copyWAL copies the WAL at wal into a new file at kept; it removes what it
// wrote if it fails.
func copyWAL(wal, kept string) error {
	src, err := os.Open(wal)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(kept, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(kept)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(kept)
		return err
	}
	return nil
}

// dropStartWAL removes the copy keepStartWAL made, if any.
func dropStartWAL(kept string) {
	if kept != "" {
		os.Remove(kept) //nolint:errcheck // a copy left is overwritten by the next start
	}
}

// refused closes the store of a start that is refused, and puts back the
// WAL it found as it was (kept), with no -shm beside it, which SQLite
// makes again from the WAL.
func (s *Store) refused(kept string) {
	s.closeDBs()
	if kept == "" {
		return
	}
	// SQLite removes the WAL as its last connection closes. Where the
	// WAL found is still there, another program has the database open
	// (an sqlite3 shell holding the write lock that refused this start):
	// the WAL and the -shm are that program's too, and with the copy put
	// in the WAL's place and the -shm removed, its commits went into a
	// WAL at no path, and the next start, with a -shm of its own, saw
	// none of its locks.
	if found, err := os.Stat(s.path + "-wal"); err == nil && s.startWALFound != nil && os.SameFile(found, s.startWALFound) {
		os.Remove(kept) //nolint:errcheck // a copy left is removed by the next start
		return
	}
	// Where SQLite's close left the WAL and the copy is a second name of
	// it, a rename would do nothing, the WAL being as the start found it.
	if sameFile(kept, s.path+"-wal") {
		os.Remove(kept) //nolint:errcheck // a name left is removed by the next start
	} else if err := os.Rename(kept, s.path+"-wal"); err != nil {
		s.log.Error("could not put back the WAL a refused start found; a copy of it is beside the database file",
			"copy", kept, "error", err.Error())
		return
	}
	os.Remove(s.path + "-shm") //nolint:errcheck // made again from the WAL
}

// sameFile reports whether the paths a and b both name one file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
