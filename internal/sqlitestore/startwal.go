package sqlitestore

import (
	"errors"
	"io"
	"io/fs"
	"os"
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

// startWALSuffix names the copy, beside the database file.
const startWALSuffix = "-wal.start"

// keepStartWAL copies the WAL of the database file at path, if there is
// one, beside it, and returns the copy's path ("" if there is no WAL).
func keepStartWAL(path string) (string, error) {
	src, err := os.Open(path + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer src.Close()
	kept := path + startWALSuffix
	dst, err := os.OpenFile(kept, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(kept)
		return "", err
	}
	if err := dst.Close(); err != nil {
		os.Remove(kept)
		return "", err
	}
	return kept, nil
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
	if err := os.Rename(kept, s.path+"-wal"); err != nil {
		s.log.Error("could not put back the WAL a refused start found; a copy of it is beside the database file",
			"copy", kept, "error", err.Error())
		return
	}
	os.Remove(s.path + "-shm") //nolint:errcheck // made again from the WAL
}
