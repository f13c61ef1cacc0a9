//go:build unix

package sqlitestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// lockDir takes an exclusive lock on the data directory, and lockFile one
// on the database file at path, for as long as the store is open: the
// embedded store is for one process, and a second one on the same files
// would race its migrations. The file's own lock holds whatever path
// reaches it, a symbolic or hard link in another directory included
// (through a hard link, SQLite would keep a WAL of its own beside it and
// corrupt the database). The kernel frees the locks when the process dies,
// however it dies.
//
// The flock on the database file does not meet SQLite's own fcntl locks,
// but closing any descriptor of the file drops those of the whole process:
// the descriptor is closed only after every connection (see closeDBs).
//
// holdNotServed returns ErrInUse, wrapped, where a process holds dir's
// lock file or the database file at path (a server that runs): OpenReadOnly,
// which takes no lock of SQLite's, must not read a file being written. It
// asks both: a lock file it cannot open (removed while the server ran, or
// not readable by this user) said nothing, and the database file, which it
// reads anyway, is locked by every server, whatever path reached it. It
// opens them only to read: a directory this process may not write is read
// as it is. The shared locks it takes are held until the files it returns
// are closed, as OpenReadOnly's Close does: a probe let go at once let a
// server start and write the file while it was read as immutable.
func holdNotServed(dir, path string) ([]*os.File, error) {
	var held []*os.File
	for _, name := range []string{filepath.Join(dir, "tributary.lock"), path} {
		f, err := os.Open(name)
		if err != nil {
			continue // none, or not readable: the other says, and the database file's own open fails if it is not readable
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			closeFiles(held...)
			if name == path {
				return nil, fmt.Errorf("%w: the database file %s is in use by another Tributary process; stop it first", ErrInUse, path)
			}
			return nil, fmt.Errorf("%w: %s is in use by another Tributary process (%s); stop it first", ErrInUse, dir, holderPID(name))
		}
		if err != nil {
			f.Close()
			continue
		}
		held = append(held, f)
	}
	return held, nil
}

// lockDir also returns what the lock file held before: the last holder's
// pid and head, or what markStopped wrote there at a clean stop. It leaves
// the file as it was, for startRecord to write over in one step.
func lockDir(dir string) (f *os.File, previous string, err error) {
	lockPath := filepath.Join(dir, "tributary.lock")
	f, err = os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o640)
	if errors.Is(err, fs.ErrPermission) {
		// Left by another user (a start as root, then one as the
		// image's user), or a directory it may not write.
		if _, serr := os.Stat(lockPath); serr == nil {
			return nil, "", fmt.Errorf("open lock file: %s is not writable by this process (uid %d); the embedded store "+
				"writes it, the database and its -wal and -shm files: give them, and the data directory, to this user: %w", lockPath, os.Geteuid(), err)
		}
		return nil, "", fmt.Errorf("open lock file: the data directory %s is read-only to this process (uid %d); the embedded store "+
			"makes its lock file, and its -wal and -shm files, there: give it to this user (chown -R %d:%d %s, as root): %w",
			dir, os.Geteuid(), os.Geteuid(), os.Getegid(), dir, err)
	}
	if errors.Is(err, syscall.EROFS) {
		// A backup or a snapshot mounted read-only: said as its siblings
		// are, not in the system's words alone.
		return nil, "", fmt.Errorf("open lock file: the data directory %s is on a read-only file system; the embedded store "+
			"makes its lock file, and its -wal and -shm files, there: mount it read-write (api verify checks a read-only copy as it is): %w", dir, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open lock file: %w", err)
	}
	if readers, err := lockExclusive(f, lockPath); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if readers {
				return nil, "", fmt.Errorf("%w: %s is in use by another process that reads it without writing (perhaps api verify, "+
					"checking it read-only, or another server starting): start the server once it has ended", ErrInUse, dir)
			}
			return nil, "", fmt.Errorf("%w: %s is in use by another Tributary process (%s); "+
				"the embedded store serves one process, use MySQL for several", ErrInUse, dir, holderPID(lockPath))
		}
		return nil, "", fmt.Errorf("lock %s: %w", lockPath, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("read %s: %w", lockPath, err)
	}
	// Left as it is: startRecord writes this process's record over it.
	return f, string(b), nil
}

// lockExclusive takes f's exclusive lock (f is the file at path), without
// waiting. Refused it, readers is whether only shared locks were held then
// (readOnlyHolders); if so the lock is tried once more, for the shared
// lock granted says as much of a holder that ended between the two tries
// (the old server, at a rolling restart), or of another start's own probe
// (two started at once, one of which must win), as of a read-only api
// verify.
func lockExclusive(f *os.File, path string) (readers bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if !errors.Is(err, syscall.EWOULDBLOCK) || !readOnlyHolders(path) {
		return false, err
	}
	if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true, err
	}
	return false, nil
}

// betweenLockTries is set by tests only (export_test.go).
var betweenLockTries atomic.Pointer[func()]

// readOnlyHolders is whether the lock on the file at path that an
// exclusive lock was refused for is only shared ones: those holdNotServed
// takes (a read-only api verify), which writes no pid, where a server
// holds it exclusively. The shared lock taken to tell is let go at once.
func readOnlyHolders(path string) bool {
	if f := betweenLockTries.Load(); f != nil {
		(*f)()
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil
}

// holderPID says which process holds the lock file at lockPath: "pid N"
// from its first line. A process that has just taken the lock has not
// written it yet (two started at once; the message said "pid )"): it is
// read again for up to half a second, then said to be not yet written.
func holderPID(lockPath string) string {
	for range 50 {
		b, _ := os.ReadFile(lockPath)
		if pid := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]); pid != "" && !strings.HasPrefix(pid, strings.TrimSpace(stoppedPrefix)) {
			return "pid " + pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "its pid not yet written"
}

// lockFile opens the database file at path, which is there, and locks it;
// see lockDir.
func lockFile(path string) (db *os.File, err error) {
	// Read-only is enough for flock, and leaves a file this process may not
	// write to checkWritable's clearer error.
	db, err = os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s to lock it: %w", path, err)
	}
	if readers, err := lockExclusive(db, path); err != nil {
		db.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if readers {
				return nil, fmt.Errorf("%w: the database file %s is in use by another process that reads it without writing "+
					"(perhaps api verify, checking it read-only, or another server starting): start the server once it has ended", ErrInUse, path)
			}
			return nil, fmt.Errorf("%w: the database file %s is in use by another Tributary process, "+
				"which reaches it through another path (a symbolic or hard link, or another directory); "+
				"the embedded store serves one process, use MySQL for several", ErrInUse, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// SQLite keeps a WAL beside each name of the file: after a crash, the
	// commits in one are not seen through another, and its stale WAL is
	// later written over them. The lock above holds only while both run.
	if fi, err := db.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			db.Close()
			return nil, fmt.Errorf("the database file %s has %d names (hard links): SQLite keeps a WAL beside each, "+
				"and the commits in one are not seen through another; remove the other links (to back it up, copy it)", path, st.Nlink)
		}
	}
	return db, nil
}

// fileStamp names the file f as it is now: its device and inode, size and
// modification time. A file copied or restored into place, or written
// since, has another.
func fileStamp(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("dev %d inode %d size %d mtime %d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
}

// links is how many names (hard links) the file fi describes has.
func links(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// mountPoint reports whether dir has a file system of its own mounted on
// it (its device is not its parent's): a volume, where Docker or Kubernetes
// mounts one. A bind mount from the parent's file system is not told.
func mountPoint(dir string) bool {
	var d, p syscall.Stat_t
	if syscall.Stat(dir, &d) != nil || syscall.Stat(filepath.Join(dir, ".."), &p) != nil {
		return false
	}
	return d.Dev != p.Dev
}

// writableDir reports whether the process may make files in dir, as
// SQLite's unix VFS asks of a temporary directory (access W_OK|X_OK).
func writableDir(dir string) bool { return syscall.Access(dir, 0x2|0x1) == nil }

// removeUnheldLock removes the lock file at path where no process holds
// it: a start that made it and was refused has let it go (its descriptor
// closed), and takes it again to remove it, so that one another start
// holds meanwhile is kept.
func removeUnheldLock(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		os.Remove(path) //nolint:errcheck // at worst, it is left as before
	}
}
