package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// dsnOf is the data source name of the database file at path, for every
// connection: wait up to 10 s for a lock instead of failing at once, WAL
// so that readers never block the writer, FULL sync so that a commit is
// on disk before it is acknowledged, times read back in UTC, and SQLite's
// temporary files in memory (temp_store): it wrote them (a statement
// journal past 64 KiB, in an append of a few hundred events) into /var/tmp,
// /tmp or the working directory, and where none was writable (a container's
// read-only root file system) every such append failed, forever. What they
// hold is bounded by what one statement changes (an append's is bounded by
// TRIBUTARY_MAX_BODY_BYTES) or sorts: the store's reads take their rows in
// an index's order, or sort at most a page of them (ORDER BY … LIMIT). A
// migration, which may make an index on a log of events and sort all its
// keys, sorts on temporary files where it can (applyMigrations). A file: URI,
// its path escaped: the driver cuts a plain name at its first "?", so a
// directory named a?b would open the database a beside it, and SQLite
// reads "#" and "%" in a URI as a fragment and escapes.
func dsnOf(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_timezone=UTC"
}

// openDSNOf is dsnOf for the pools of a store, which open connections
// whenever they need one, long after start-up: mode=rw, so that SQLite
// never makes a new database file at path (newDatabase alone does).
func openDSNOf(path string) string { return dsnOf(path) + "&mode=rw" }

// fileConnector opens the pools' connections, once check (checkFile) finds
// the database file, and its WAL, still those the store opened. A
// connection opened on another file at the path (a new, empty one SQLite
// made there, the file moved aside; or a file put in its place) shares the
// -wal and -shm beside it with the store's connections, and took them for
// its own: it reset the WAL, and the commits since the last checkpoint were
// gone from the moved file too. A new WAL made beside the old one's index,
// the WAL removed, was as bad.
type fileConnector struct {
	driver.Connector
	check func() error
}

func (c fileConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Connector.Connect(ctx)
}

// makeDir makes the data directory dir, 0750, if it is not there and its
// parent is. A missing parent, or a link to a directory not there, is
// refused, not made: it was made with every
// directory up the path (mkdir -p), and a volume not mounted yet at boot,
// or a path mistyped, gave a ready server on a new, empty log that handed
// out positions its consumers had seen, and a second log once the volume
// came back. made reports whether it made dir, where a directory that was
// there already may be a mount point with nothing mounted on it.
func makeDir(dir string) (made bool, err error) {
	err = os.Mkdir(dir, 0o750)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		fi, serr := os.Stat(dir)
		switch {
		case errors.Is(serr, fs.ErrNotExist):
			// A symbolic link to nothing: the volume behind it, likely.
			target, _ := os.Readlink(dir)
			return false, fmt.Errorf("the data directory %s is a symbolic link to %s, which does not exist: a volume not mounted yet, "+
				"or a mistyped path? mount it, or create it if a new log is meant there, then start again", dir, target)
		case serr == nil && !fi.IsDir():
			return false, fmt.Errorf("the data directory %s is not a directory: move it away, or give another directory", dir)
		}
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(dir))
		if fi, serr := os.Stat(parent); serr == nil && fi.IsDir() {
			// The parent is there, and its file system makes no
			// directories, yet says ENOENT as a missing parent does
			// (procfs, sysfs): no volume to mount, no path to create.
			return false, fmt.Errorf("the data directory %s does not exist and cannot be made: %s exists, but its file system makes no "+
				"directory there (procfs or sysfs?): give a directory on a file system for data: %w", dir, parent, err)
		}
		return false, fmt.Errorf("the data directory %s does not exist, nor does its parent %s: a volume not mounted yet, or a mistyped path? "+
			"if a new log is meant there, create it (mkdir -p %s), then start again", dir, filepath.Dir(filepath.Clean(dir)), dir)
	}
	return false, fmt.Errorf("create the data directory %s: %w", dir, err)
}

// header is how every SQLite database file begins.
var header = []byte("SQLite format 3\x00")

// prepareFile makes sure that the database file at path holds a database,
// making a new one only where neither it nor its WAL is there. SQLite
// opens an empty file as a new, empty database: a file truncated to zero
// bytes (a botched restore, a full disk) would start the log again, under
// consumers whose positions point past its head, and hand their positions
// out again. A file is made empty by nothing but damage: a new one is
// renamed into place only once it holds its header. It reports whether it
// made a new one. Files this process may not open are refused first
// (checkOwned).
func prepareFile(ctx context.Context, path string) (created bool, err error) {
	if err := checkOwned(path); err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, newDatabase(ctx, path)
	case err != nil:
		return false, fmt.Errorf("look at the database file: %w", err)
	case !fi.Mode().IsRegular():
		// SQLite says only "unable to open database file" of anything
		// but a file there, which reads as an outage.
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return false, fmt.Errorf("%s is %s, not a database file: move it away, or give another directory", path, what)
	case fi.Size() == 0:
		return false, fmt.Errorf("the database file %s is empty (0 bytes): a log truncated (a botched copy or restore, a full disk), not a new one; "+
			"started on it, the log would hand out again positions its consumers have seen. Restore it from a backup; "+
			"to start a new, empty log on purpose, remove it and any %s-wal beside it", path, FileName)
	}
	ok, err := hasHeader(path)
	if err != nil {
		return false, fmt.Errorf("read the database file's header: %w", err)
	}
	if !ok {
		return false, fmt.Errorf("the database file %s (%d bytes) does not begin with an SQLite header: truncated or overwritten (a botched copy or restore), "+
			"or another file. Restore it from a backup; to start a new, empty log on purpose, move it away and any %s-wal beside it", path, fi.Size(), FileName)
	}
	return false, nil
}

// errFileSystemFull is the store's SQLITE_FULL: eventstore.ErrFull, of the file
// system, which has no tablespace to grow (the 503's detail says so).
var errFileSystemFull = fmt.Errorf("%w (%w)", eventstore.ErrFull, eventstore.ErrDiskFull)

// checkOwned returns an error naming the file and the user this process
// runs as where the database file at path is there but not readable to
// this process, or its -wal or -shm is there but not readable and
// writable: left by another user (a copy or a restore done as root, a
// start as root before one as the service's user). They gave "read the
// database file's header: permission denied", "keep its WAL …: permission
// denied" and, for the -shm, SQLite's "unable to open database file", which
// named no file and read as an outage. A database file that is readable
// but not writable is left to checkWritable, which says it is read-only,
// with its -wal and -shm (SQLite makes them with the file's mode).
func checkOwned(path string) error {
	for _, f := range []struct {
		name string
		flag int
	}{{path, os.O_RDONLY}, {path, os.O_RDWR}, {path + "-wal", os.O_RDWR}, {path + "-shm", os.O_RDWR}} {
		file, err := os.OpenFile(f.name, f.flag, 0)
		if err == nil {
			file.Close()
			continue
		}
		if errors.Is(err, fs.ErrPermission) {
			if f.name == path && f.flag == os.O_RDWR {
				return nil
			}
			what := "readable and writable"
			if f.flag == os.O_RDONLY {
				what = "readable"
			}
			return fmt.Errorf("%s is not %s by this process (uid %d); the embedded store reads and writes it, the database file "+
				"and its -wal and -shm files: give them, and the data directory, to this user (chown them to the service's user): %w",
				f.name, what, os.Geteuid(), err)
		}
	}
	return nil
}

// warnMemoryFileSystem logs, at every start, a warning where the data
// directory dir is on a file system kept in memory (tmpfs: /dev/shm, /tmp
// on many distributions, a Kubernetes emptyDir of medium Memory): the
// store's durability (a kill -9 or a power cut loses nothing acknowledged)
// ends there at a reboot, which loses the whole log, and a start said
// nothing of it.
func warnMemoryFileSystem(log *slog.Logger, dir string) {
	if fsType := memoryFileSystem(dir); fsType != "" {
		log.Warn(fmt.Sprintf("the data directory %s is on %s, a file system kept in memory: a reboot or a power cut loses the whole log; "+
			"put TRIBUTARY_DATA_DIR on a disk", dir, fsType), "path", dir, "file_system", fsType)
	}
}

// hasHeader reports whether the file at path begins with an SQLite
// database's header.
func hasHeader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	b := make([]byte, 100) // the header's size
	if _, err := io.ReadFull(f, b); errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return bytes.HasPrefix(b, header), nil
}

// newDatabase makes a new, empty database file at path, where there is
// none: in a file beside it, renamed into place once SQLite has written its
// header and the file is on disk, so that a crash never leaves an empty
// file at path. A WAL with commits in it and no database file is refused:
// the database was removed, or not restored with it, and SQLite would lay
// the WAL's pages over the new file.
func newDatabase(ctx context.Context, path string) error {
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("%s-wal (%d bytes) is there without its database file %s: the database was removed, or restored without it; "+
			"restore %s from a backup, or, to start a new, empty log on purpose, remove %s-wal and %s-shm",
			path, fi.Size(), path, FileName, FileName, FileName)
	}
	tmp := path + ".new"
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} { // left by a start that stopped here
		if err := os.Remove(tmp + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create %s: %w", path, err)
		}
	}
	// Made here, empty, for its mode: SQLite makes a file 0644, readable
	// by every local user in a directory made 0755 by someone else, and
	// makes the -wal and -shm with the database file's mode. SQLite opens
	// an empty file as a new database.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	// sql.Open only checks its arguments; the ping sets WAL mode, which
	// writes the header.
	db, _ := sql.Open("sqlite", dsnOf(tmp))
	err = db.PingContext(ctx)
	if err := errors.Join(err, db.Close()); err != nil {
		return fmt.Errorf("create %s: %w", path, translate(err))
	}
	if ok, err := hasHeader(tmp); err != nil || !ok {
		return fmt.Errorf("create %s: SQLite wrote no header (%v)", path, err)
	}
	if err := syncPath(tmp); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := syncPath(filepath.Dir(path)); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// syncPath flushes the file or directory at path to disk.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// onLockFileChange, set by tests only (export_test.go), is called with the
// lock file's path after each change made to its content at start-up and
// at a clean stop: a test sees every state a crash could leave it in.
var onLockFileChange atomic.Pointer[func(path string)]

func lockFileChanged(path string) {
	if f := onLockFileChange.Load(); f != nil {
		(*f)(path)
	}
}

// lockRecord is what rewriteLockFile needs of the lock file, an *os.File.
type lockRecord interface {
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Name() string
}

// rewriteLockFile replaces the content of the lock file f with content, so
// that a crash at any point leaves the old content or the new one, never an
// empty file (on a Truncate(0) followed by a write, a process killed in
// between, or a power cut before the write reached the disk, left none):
// content goes over the old one at its start and is synced, what is left of
// the old one after it is cut off, and the file is synced again. The write
// is on disk before the cut: the kernel writes a file's data and its length
// back apart, and a power cut that kept the cut and lost the write left the
// old record cut short, its head read smaller ("head 0000000000000000" is
// 0), which let a lost WAL through. The lock file cannot be replaced by a
// rename: another process would lock the new file while this one holds the
// old. A record a crash leaves with the old one's tail after it still reads
// as the new one (see headRecorded).
func rewriteLockFile(f lockRecord, content string) error {
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		return err
	}
	lockFileChanged(f.Name())
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Truncate(int64(len(content))); err != nil {
		return err
	}
	lockFileChanged(f.Name())
	return f.Sync()
}

// startRecord writes this process's record into the lock file f (nil where
// there is none), in place of previous, what lockDir found there: the pid,
// for the message that refuses a second process, and, after a run that did
// not stop cleanly, the head it recorded, which lockDir left in place: a
// start that is killed, fails before checkHead, or is refused by it, leaves
// it for the next start to check, which would otherwise find no record and
// serve a log that lost its WAL. A lock file that was new or empty is made
// durable in its directory too.
func startRecord(f *os.File, previous string) error {
	if f == nil {
		return nil
	}
	return writeStartRecord(f, previous)
}

// writeStartRecord is startRecord on the lock file f.
func writeStartRecord(f lockRecord, previous string) error {
	content := pidLine()
	if recorded, ok := headRecorded(previous); ok {
		content += headLine(recorded)
	}
	if err := rewriteLockFile(f, content); err != nil {
		return startRecordError(f.Name(), err)
	}
	if previous == "" {
		if err := syncPath(filepath.Dir(f.Name())); err != nil {
			return startRecordError(f.Name(), err)
		}
	}
	return nil
}

// startRecordError is the error of a start that could not write its record
// into the lock file at name. The start is refused: without the record, a
// start after a crash could not tell a log that lost its WAL. A full disk
// (a new lock file needs a block, and on a copy-on-write file system so
// does every write) is said as such, with what to do.
func startRecordError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // its text names the file again
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w: the data directory's file system is full, or a quota on it used up (%w): this start could not write its record into %s, "+
			"which lets a start after a crash find a log that lost its WAL, and it does not start without it; "+
			"free some space and start again", eventstore.ErrUnavailable, errFileSystemFull, err, name)
	}
	return fmt.Errorf("write %s: %w", name, err)
}

// stoppedPrefix begins what markStopped writes into the lock file.
const stoppedPrefix = "stopped cleanly: "

// markStopped records in the lock file that the store stopped cleanly, with
// the database file as it left it, once every connection is closed: SQLite
// has then copied the WAL into the file and removed it. With the WAL still
// there it records nothing, and the next start checks the file.
func (s *Store) markStopped() {
	if s.dirLock == nil || s.file == nil {
		return
	}
	if _, err := os.Stat(s.path + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if stamp := fileStamp(s.file); stamp != "" {
		rewriteLockFile(s.dirLock, stoppedPrefix+stamp+"\n") //nolint:errcheck // at worst, the next start checks the file
	}
}

// stoppedCleanly reports whether previous, what the lock file held before
// this start, says that the store stopped cleanly with file, at path, as it
// is now, with no WAL beside it. A clean stop leaves none: a WAL found since
// (restored with an older copy, left by another program killed as it wrote
// the file) holds pages SQLite reads in place of the file's, which glance,
// reading the file, would not see.
func stoppedCleanly(previous string, file *os.File, path string) bool {
	if fi, err := os.Stat(path + "-wal"); !errors.Is(err, fs.ErrNotExist) && (err != nil || fi.Size() > 0) {
		return false
	}
	stamp := fileStamp(file)
	return stamp != "" && previous == stoppedPrefix+stamp+"\n"
}

// checkPages checks the database file's pages at start-up: every page
// with quick_check where the file is not the one the store last stopped
// cleanly (clean false); where it is, only what glance reads, and every page
// if that finds one damaged: glance says what it found, quick_check decides.
func (s *Store) checkPages(ctx context.Context, clean bool) error {
	if clean {
		err := s.glance(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("check the database file %s: %w", s.path, ctx.Err())
		}
		s.log.Warn("the database file, stopped cleanly, looks damaged: checking every page with PRAGMA quick_check",
			"path", s.path, "found", err.Error())
	} else {
		s.log.Info("checking the database file with PRAGMA quick_check: the last stop was not clean, or the file was copied, restored or changed since, "+
			"or a WAL is beside it",
			"path", s.path)
	}
	return s.quickCheck(ctx)
}

// quickCheck runs PRAGMA quick_check over the whole database: every page of
// every table and index is read and its structure checked (not that an
// index agrees with its table, which PRAGMA integrity_check does, at about
// five times the cost). It returns an error saying the file is damaged if
// it is, and the context's error if that ends first.
func (s *Store) quickCheck(ctx context.Context) error {
	start := time.Now()
	rows, err := s.feed.QueryContext(ctx, "PRAGMA quick_check(10)")
	if err != nil {
		return s.damaged(err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return s.damaged(err)
		}
		problems = append(problems, strings.Join(strings.Fields(p), " "))
	}
	if err := rows.Err(); err != nil {
		return s.damaged(err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return fmt.Errorf("the database file %s is damaged (PRAGMA quick_check: %s): %s", s.path, strings.Join(problems, "; "), restoreAdvice)
	}
	s.log.Info("database file checked", "path", s.path, "duration", time.Since(start))
	s.quickChecked.Store(true)
	return nil
}

// restoreAdvice ends the error of a damaged database file.
const restoreAdvice = "restore it from a backup (the sqlite3 shell's .recover may save what is still readable of it)"

// damaged is the error of a quick_check that failed with err: the file is
// damaged if SQLite says so, err's own otherwise.
func (s *Store) damaged(err error) error {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("the database file %s is damaged (PRAGMA quick_check: %w): %s", s.path, err, restoreAdvice)
	}
	return fmt.Errorf("check the database file %s: %w", s.path, translate(err))
}

// pidLine is the first line of the lock file while the store runs: the
// process's id.
func pidLine() string { return strconv.Itoa(os.Getpid()) + "\n" }

// recordHead writes the log's head into the lock file after each commit,
// on the line after the pid, at a fixed width so that each write replaces
// the last. A commit is durable in the WAL before it is recorded, so after
// a crash the record is never past the head the files hold, unless the
// WAL was lost (see checkHead). It is not synced: after a power cut it may
// be behind, never ahead. It also asks for the WAL's restart if the WAL
// has grown past its limit (see wal.go).
func (s *Store) recordHead(position int64) {
	writeHead(s.dirLock, position)
	s.noteCheckpoint()
	s.checkWALSize()
}

// writeHead writes position as the head record into the lock file f (nil
// where there is none), on the line after the pid, where startRecord put
// the last run's.
func writeHead(f *os.File, position int64) {
	if f != nil {
		f.WriteAt([]byte(headLine(position)), int64(len(pidLine()))) //nolint:errcheck // a check at the next start, not the commit
	}
}

// headLine is the head record of position: always 26 bytes, so that each
// record replaces the last.
func headLine(position int64) string { return fmt.Sprintf("head %020d\n", position) }

// headRecorded returns the head a run that did not stop cleanly recorded
// in the lock file (previous, what it held before this start), if any.
func headRecorded(previous string) (int64, bool) {
	if strings.HasPrefix(previous, stoppedPrefix) {
		return 0, false
	}
	for _, line := range strings.Split(previous, "\n") {
		if v, ok := strings.CutPrefix(line, "head "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// checkHead refuses a database whose log ends before the head that the
// last run, which did not stop cleanly, recorded in the lock file
// (previous, what it held before this start): its commits since the last
// checkpoint were only in the WAL, which has been removed or lost since
// (or an older copy of the file put in place). Started so, the log would
// have lost acknowledged appends without a word, and would hand their
// positions out again. Otherwise it records the head it found, so that a
// crash before this run's first commit leaves it recorded too.
func (s *Store) checkHead(ctx context.Context, previous string) error {
	var tables int
	if err := s.feed.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'log_head'").Scan(&tables); err != nil {
		return fmt.Errorf("open %s: read the schema: %w", s.path, translate(err))
	}
	var head int64
	if tables == 1 {
		// The head, or the last event where log_head is behind it (edited
		// back by hand, see headBehind): a log that holds every commit is no
		// loss, and the start serves, saying so.
		err := s.feed.QueryRowContext(ctx, "SELECT MAX(position, COALESCE((SELECT MAX(position) FROM events), 0)) FROM log_head WHERE id = 1").Scan(&head)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			// events dropped while the server was stopped: SQLite's "no
			// such table" named neither the loss nor its remedy.
			if missing := s.missingTable(ctx, err); missing != nil {
				return fmt.Errorf("open %s: %w", s.path, missing)
			}
			return fmt.Errorf("open %s: read the log's head: %w", s.path, translate(err))
		}
	}
	recorded, ok := headRecorded(previous)
	if !ok || head >= recorded {
		s.recordHead(head)
		return nil
	}
	lock := s.dirLock.Name()
	// A backup restored into the file while that run ran (sqlite3's
	// .restore, which the README allows) takes the log back in the same
	// way, and the run records no head until its next commit: this start
	// cannot tell it from a loss, and says both.
	restored := fmt.Sprintf("If a backup was restored into %s while that run ran (sqlite3 .restore) and nothing was appended since, that is why: "+
		"to start on the restored log, remove %s. Otherwise, ", FileName, lock)
	if s.walFound {
		return fmt.Errorf("the log in %s ends at position %d, but the last run, which did not stop cleanly, had committed up to %d. %s"+
			"%s-wal is there, but it can be read only up to position %d: a frame of it is damaged (bytes gone bad; or it is not this "+
			"file's, an older copy of which was put in place), and the commits after it cannot be read. This start leaves it as it found it. Restore the directory from a backup; or, to start on this "+
			"shorter log on purpose, knowing that its consumers' positions past %d will be handed out again to new events, remove %s",
			s.path, head, recorded, restored, FileName, head, head, lock)
	}
	return fmt.Errorf("the log in %s ends at position %d, but the last run, which did not stop cleanly, had committed up to %d. %s"+
		"the commits since the last checkpoint were in %s-wal, which has been removed or lost since the crash (or an older copy of the file was put in place). "+
		"Put back the %s-wal (and %s-shm) the crash left, if you still have it; to start on this shorter log on purpose, "+
		"knowing that its consumers' positions past %d will be handed out again to new events, remove %s",
		s.path, head, recorded, restored, FileName, FileName, FileName, head, lock)
}

// fileWrites tells the database file written by SQLite from one written
// beside it (cp over it): in WAL mode SQLite writes the file only in a
// checkpoint, which records in the WAL's index (-shm) up to which frame it
// will copy (nBackfillAttempted) before it writes the file, and how many it
// copied (nBackfill) once it has, and, where it restarts the WAL, new
// salts. A file whose size, header or log_head's page (every append's
// commit writes a random commit_id there, so a copy of the same size and
// header differs in it) changed while those did not was written by
// something else. Its modification time says nothing: a touch, or a backup
// tool that sets the times it copied, changes it and no byte, and the look
// refused appends until a restart. A checkpoint that fails part way (a
// full disk) has grown the file with nBackfill as it was: the attempt it
// recorded before says it was SQLite's. Without it, the look took the
// store's own checkpoint on a full disk for a copy over the file, and
// refused appends until a restart.
//
// Whatever was recorded, the header must stay a database's, and its change
// counter (bytes 24 to 28), which SQLite raises at each commit that writes
// page 1 (every one that grows the file) and never lowers, must not go
// back: a copy made over the file after a checkpoint, or during one, was
// taken for the checkpoint's writes. Where a finished checkpoint was
// recorded, log_head's page in the file must also be the one the WAL holds
// in its latest frame of it, where the checkpoint copied that frame
// (checkpointedHeadPage): a copy taken after the checkpoint before, whose
// change counter is the file's at the last look, was taken for this one's
// writes. A checkpoint under way (or failed part way) records only its
// attempt, and writes the file page by page meanwhile: the look then
// judges the file only as judgeSettled says. What goes unseen: a copy put
// over the file while a checkpoint writes it (the checkpoint's pages,
// log_head's among them, go over the copy's; and the look, which cannot
// tell them from the copy's, finds only one that went back), and one put there after a checkpoint that also restarted the
// WAL (PRAGMA wal_checkpoint(TRUNCATE) or RESTART run by another program;
// the store notes its own restarts as they end) and before the next look,
// whose change counter is not behind: the restart leaves no frame to
// compare with, only the other pages differ, and reading them all at each
// look is the full check.
type fileWrites struct {
	size     int64
	header   [100]byte // the file's header; all zero where it has none
	headPage string    // log_head's page; "" where it is not read
	ckpt     [16]byte  // the WAL index's salts, nBackfill and nBackfillAttempted
	// checkpointed is log_head's page as the recorded checkpoint copied it
	// into the file from the WAL (see checkpointedHeadPage); "" where it
	// is not known.
	checkpointed string
}

// changeCounter is the header's file change counter.
func (w fileWrites) changeCounter() uint32 { return binary.BigEndian.Uint32(w.header[24:28]) }

// wentBack reports whether the file now (w) holds no database header, or
// a change counter behind the one it had (last): no checkpoint writes it so.
func (w fileWrites) wentBack(last fileWrites) bool {
	return !bytes.HasPrefix(w.header[:], header) || w.changeCounter() < last.changeCounter()
}

// foreign reports whether the file now (w) cannot have been written by
// SQLite since it was last (see fileWrites): it went back, or no
// checkpoint was recorded and its size, header or log_head's page changed.
func (w fileWrites) foreign(last fileWrites) bool {
	if w.wentBack(last) {
		return true
	}
	if w.ckpt != last.ckpt {
		// A checkpoint since, which wrote log_head's page as the WAL
		// held it then: a copy put over the file after it holds another.
		return w.checkpointed != "" && w.headPage != "" && w.headPage != w.checkpointed
	}
	return w.size != last.size || w.header != last.header || last.headPage != "" && w.headPage != last.headPage
}

// unfinished reports whether the WAL index records a checkpoint begun and
// not finished (nBackfillAttempted past nBackfill): one that failed part
// way, whose next try (after a commit of the store's) writes the file again
// up to the same frame, recording nothing new until it finishes. A start
// that recovers a WAL records all of it as attempted, too.
func (w fileWrites) unfinished() bool {
	backfilled := binary.NativeEndian.Uint32(w.ckpt[8:12])
	attempted := binary.NativeEndian.Uint32(w.ckpt[12:16])
	return attempted > backfilled
}

// walIndexCheckpoint reads the checkpoint's record from the WAL index f:
// the first header's salts (bytes 32 to 40), the checkpoint info's
// nBackfill (96 to 100) and nBackfillAttempted (128 to 132), SQLite's wal.c
// layout, in the machine's byte order.
func walIndexCheckpoint(f *os.File) ([16]byte, error) {
	var b [136]byte
	var ckpt [16]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return ckpt, err
	}
	copy(ckpt[:8], b[32:40])
	copy(ckpt[8:12], b[96:100])
	copy(ckpt[12:], b[128:132])
	return ckpt, nil
}

// watchWrites opens the WAL index (-shm) and takes the file's state now as
// the first that lookForOverwrite compares with. Without it, there is no
// look. The descriptor is closed only with the database's (closeFiles,
// after every connection): closing one drops every fcntl lock the process
// holds on the file, SQLite's on the index included.
func (s *Store) watchWrites() {
	shm, err := os.Open(s.path + "-shm")
	if err != nil {
		return
	}
	s.shm = shm
	s.findHeadPage(context.Background())
	if now, err := s.writesNow(); err == nil {
		s.watching, s.lastWrites = true, now
	}
}

// checkWriting is checkFile, and lookForOverwrite, before a group's writes;
// lookBesideRestart where one of the store's restarts of the WAL runs.
func (s *Store) checkWriting() error {
	if err := s.checkFile(); err != nil {
		return err
	}
	if !s.restarting.TryLock() {
		return s.lookBesideRestart()
	}
	defer s.restarting.Unlock()
	return s.lookForOverwrite()
}

// lookBesideRestart is the look for a copy over the file while one of the
// store's restarts of the WAL runs (restartWAL holds restarting): its
// checkpoint may be writing the file, page by page, with nothing new
// recorded, so only a file that went back (no header, its change counter
// behind) is found, and the last look's state and answer are kept; the
// file as the restart leaves it is the next look's.
func (s *Store) lookBesideRestart() error {
	if !s.watching {
		return nil
	}
	if now, err := s.writesNow(); err == nil {
		s.fileMu.Lock()
		wentBack := now.wentBack(s.lastWrites)
		s.fileMu.Unlock()
		if wentBack {
			return s.lookForOverwrite()
		}
	}
	if err := s.overwritten.Load(); err != nil {
		return *err
	}
	return nil
}

// writesNow reads the WAL index's checkpoint record, then the file's size
// and header: in that order, so that a checkpoint under way, which records
// itself once it has written the file, is never taken as recorded with the
// file as it was before it.
func (s *Store) writesNow() (fileWrites, error) {
	ckpt, err := walIndexCheckpoint(s.shm)
	if err != nil {
		return fileWrites{}, err
	}
	if f := s.whileLooking.Load(); f != nil {
		(*f)()
	}
	fi, err := s.file.Stat()
	if err != nil {
		return fileWrites{}, err
	}
	w := fileWrites{size: fi.Size(), ckpt: ckpt}
	// A file cut short of a header, or of log_head's page (cp, between its
	// truncation and its write), is left with none.
	if _, err := s.file.ReadAt(w.header[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return fileWrites{}, err
	} else if err != nil {
		w.header = [100]byte{}
		return w, nil
	}
	if root := s.headRoot.Load(); root > 0 {
		size := int64(binary.BigEndian.Uint16(w.header[16:18]))
		if size == 1 {
			size = 65536
		}
		page := make([]byte, size)
		if _, err := s.file.ReadAt(page, (root-1)*size); err != nil && !errors.Is(err, io.EOF) {
			return fileWrites{}, err
		} else if err == nil {
			w.headPage = string(page)
		}
	}
	return w, nil
}

// findHeadPage looks up the page that holds log_head (its table's root:
// one row, never more than one page), for the look for a copy over the
// file; none before the schema is migrated.
func (s *Store) findHeadPage(ctx context.Context) {
	var root int64
	err := s.feed.QueryRowContext(ctx, "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'log_head'").Scan(&root)
	if err == nil && root > 0 {
		s.headRoot.Store(root)
	}
}

// noteCheckpoint takes the file's state as the next look's, where a
// checkpoint has been recorded since the last look: after each commit,
// whose checkpoint SQLite may have run, and after a restart of the WAL, so
// that the next look compares with the file as the store left it, and a
// copy over the file after it is not read as that checkpoint. Where a
// checkpoint is unfinished (see fileWrites.unfinished), the store's own
// just now may have tried it again, writing the file with nothing new
// recorded: the file's state is taken all the same, unless it went back (a
// copy over it during the append's transaction), which the next look then
// finds. It never finds a file overwritten itself: it may run beside one of
// the store's own checkpoints, not yet recorded.
func (s *Store) noteCheckpoint() {
	if !s.watching {
		return
	}
	// Read under the lock, as every look does: a state read before
	// another look's and stored after it would take the file back.
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	now, err := s.writesNow()
	if err != nil {
		return
	}
	// A file without a header, or whose change counter went back, is no
	// checkpoint's: it is left for the next look to find.
	if (now.ckpt != s.lastWrites.ckpt || now.unfinished()) && !now.wentBack(s.lastWrites) {
		s.lastWrites = now
	}
}

// lookForOverwrite compares the database file and the WAL index with what
// they were at the last look, and returns an error wrapping
// eventstore.ErrUnavailable and ErrOverwritten if the file was written by something other
// than SQLite (see fileWrites); it also sets or clears s.overwritten, for
// Ping. It runs under the write lock, before a group's writes: the store's
// own checkpoints after its commits (on the writer's one connection) are
// then over and recorded. Its WAL's restarts are not (one that does not get
// the write lock goes on beside the writer, see restartWAL): while one runs,
// only a file that went back is found, and the file as the restart leaves
// it is the next look's. Another process's checkpoint (Litestream's, an
// operator's sqlite3) may be under way too: judgeSettled judges the file
// only where none was. A copy over the file followed by a
// checkpoint before the next look (a restart of the WAL run just after a
// commit, or beside it) is found only where its change counter is behind the file's and
// the checkpoint did not write page 1 over it (see fileWrites).
func (s *Store) lookForOverwrite() error {
	if !s.watching {
		return nil
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	now, err := s.writesNow()
	if err != nil {
		return nil // the file's and the WAL's own checks say what became of them
	}
	return s.judgeSettled(now)
}

// judgeSettled judges the file's state now (judgeWrites), with fileMu
// held, where no checkpoint can have written the file while it was read:
// the WAL index records the same finished checkpoint after it as before (a
// checkpoint records its attempt before it writes the file, and its end
// after). Otherwise one may be writing it, page by page, recording nothing
// more until it ends (another process's, which the store cannot hold off;
// or one that failed part way, whose record stays unfinished until one
// finishes): the size, the header and log_head's page can no longer be
// judged, only a file that went back is found, and the last look's state
// and answer are kept; but where the record is the same unfinished
// checkpoint as at the last look, log_head's page must still be one such a
// checkpoint writes (notFromAttempt). Without it, the writer's look took
// another program's checkpoint for a copy over the file and refused
// appends, advising to remove the WAL, which holds acknowledged appends.
func (s *Store) judgeSettled(now fileWrites) error {
	after, err := walIndexCheckpoint(s.shm)
	settled := err == nil && after == now.ckpt
	if settled && !now.unfinished() || now.wentBack(s.lastWrites) {
		return s.judgeWrites(now)
	}
	// The same unfinished checkpoint as at the last look (after a start that
	// recovered the WAL, until one finishes): log_head's page still tells.
	if settled && now.ckpt == s.lastWrites.ckpt && s.notFromAttempt(now) {
		return s.refuse()
	}
	if err := s.overwritten.Load(); err != nil {
		return *err
	}
	return nil
}

// The WAL index's layout (SQLite's wal.c): its headers take the first 136
// bytes, then, in blocks of 32 KiB, the page of each frame (4 bytes,
// the machine's byte order: 4,062 in the first block, after the headers,
// 4,096 in each other) and a hash table; and the WAL's: a header of 32
// bytes, then each frame, a header of 24 (its page, the database's size,
// the salts) and the page.
const (
	walIndexHeader     = 136
	walIndexBlock      = 32 << 10
	walIndexFirstPages = 4062
	walIndexPages      = 4096
	walHeader          = 32
	walFrameHeader     = 24
	// checkpointedScan bounds how many of the WAL's last frames
	// checkpointedHeadPage looks through: 64 KiB of the index, past the
	// store's WAL limit of 64 MiB of 4 KiB pages.
	checkpointedScan = 16 << 10
)

// checkpointedHeadPage returns log_head's page as the checkpoint that the
// WAL index records in now (finished: nBackfill frames copied into the
// file) left it: the page of its latest frame in the WAL (every commit of
// the store writes one), where that frame is among those copied; "" where
// it is not (readers held the checkpoint up short of it), where the WAL
// holds none (restarted since), or where the index's record changed
// meanwhile (a checkpoint or a restart of the WAL under way). It reads the
// index's pages of the frames, from the last back, and the frame found,
// once for each checkpoint recorded.
func (s *Store) checkpointedHeadPage(now fileWrites) string {
	backfilled := int64(binary.NativeEndian.Uint32(now.ckpt[8:12]))
	if backfilled == 0 {
		return ""
	}
	// The WAL's last commit, from the index's header (mxFrame).
	var h [20]byte
	if _, err := s.shm.ReadAt(h[:], 0); err != nil {
		return ""
	}
	frame, _ := s.latestHeadFrame(int64(binary.NativeEndian.Uint32(h[16:20])))
	// A checkpoint copies a page only where the page's latest frame is
	// among those it copies: held up by readers short of it, it leaves the
	// file's older version. So the page is known only where no frame of
	// it came after those the checkpoint copied.
	if frame == 0 || frame > backfilled {
		return ""
	}
	page, _ := s.headFrame(now, frame)
	return page
}

// latestHeadFrame returns the latest frame of the WAL, at or before frame
// last, that holds log_head's page, from the WAL index's pages of the
// frames, read from last back: 0 with known where none does, and not known
// where there is no log_head's page to look for, the index cannot be read,
// or none is among the checkpointedScan frames up to last.
func (s *Store) latestHeadFrame(last int64) (frame int64, known bool) {
	root := s.headRoot.Load()
	if root <= 0 || s.wal == nil {
		return 0, false
	}
	for end := last; last >= 1; {
		if end-last >= checkpointedScan {
			return 0, false
		}
		// The frames of last's block, from its first to last.
		first, at := int64(1), int64(walIndexHeader)
		if last > walIndexFirstPages {
			block := (last-walIndexFirstPages-1)/walIndexPages + 1
			first, at = walIndexFirstPages+(block-1)*walIndexPages+1, block*walIndexBlock
		}
		b := make([]byte, 4*(last-first+1))
		if _, err := s.shm.ReadAt(b, at); err != nil {
			return 0, false
		}
		for i := last; i >= first; i-- {
			if int64(binary.NativeEndian.Uint32(b[4*(i-first):])) == root {
				return i, true
			}
		}
		last = first - 1
	}
	return 0, true
}

// headFrame returns the page in the WAL's frame frame, with ok, where it is
// log_head's, of this WAL (the salts in now), and the index records the
// same checkpoint as in now still: no restart rewrote it meanwhile.
func (s *Store) headFrame(now fileWrites, frame int64) (page string, ok bool) {
	size := int64(binary.BigEndian.Uint16(now.header[16:18]))
	if size == 1 {
		size = 65536
	}
	b := make([]byte, walFrameHeader+size)
	if _, err := s.wal.ReadAt(b, walHeader+(frame-1)*int64(len(b))); err != nil {
		return "", false
	}
	if int64(binary.BigEndian.Uint32(b)) != s.headRoot.Load() || !bytes.Equal(b[8:16], now.ckpt[:8]) {
		return "", false
	}
	if after, err := walIndexCheckpoint(s.shm); err != nil || after != now.ckpt {
		return "", false
	}
	return string(b[walFrameHeader:]), true
}

// notFromAttempt reports whether log_head's page in the file now cannot
// have been written by SQLite since the last look, where both read the
// same unfinished checkpoint in the WAL index (an attempt up to a frame,
// under way, or failed part way, or recorded by a start that recovered the
// WAL): since then only checkpoints up to that same frame (any other
// records itself) can have written the file, each writing log_head's page
// as its latest frame at or before it, or leaving it. So the page must be
// the last look's, or that frame's. A page read while a checkpoint wrote it
// may be neither: the page is read again, with the record unchanged, before
// the answer is yes. Where the frame cannot be found or read, it is no.
func (s *Store) notFromAttempt(now fileWrites) bool {
	if now.headPage == "" || s.lastWrites.headPage == "" || now.headPage == s.lastWrites.headPage {
		return false
	}
	attempted := int64(binary.NativeEndian.Uint32(now.ckpt[12:16]))
	frame, known := s.latestHeadFrame(attempted)
	if !known {
		return false
	}
	if frame > 0 {
		page, ok := s.headFrame(now, frame)
		if !ok || now.headPage == page {
			return false
		}
	}
	again, err := s.writesNow()
	if err != nil || again.ckpt != now.ckpt {
		return false
	}
	return again.headPage == now.headPage
}

// lookWhileReading is lookForOverwrite for a read, the live feed's and
// Ping, so that an instance that only serves reads finds a copy over the
// file too: a few reads of the file and the WAL index, no statement. It
// runs beside checkpoints (the store's own, after a commit or in a
// restart of the WAL, and other processes'), which it must not take for a
// copy: it judges the file as the writer's look does (judgeSettled), and
// while another look runs answers as the last look did.
func (s *Store) lookWhileReading() error {
	if !s.watching {
		return nil
	}
	if s.fileMu.TryLock() {
		defer s.fileMu.Unlock()
		now, err := s.writesNow()
		if err != nil {
			return nil // the file's and the WAL's own checks say what became of them
		}
		return s.judgeSettled(now)
	}
	if err := s.overwritten.Load(); err != nil {
		return *err
	}
	return nil
}

// judgeWrites compares the file's state now with the last look's, with
// fileMu held: it takes now as the state the next look compares with, and
// clears s.overwritten, where SQLite may have written the file so; it sets
// s.overwritten, logged the first time, and returns it where not.
func (s *Store) judgeWrites(now fileWrites) error {
	if now.ckpt != s.lastWrites.ckpt && now.headPage != "" && !now.unfinished() {
		now.checkpointed = s.checkpointedHeadPage(now)
	}
	if !now.foreign(s.lastWrites) {
		s.lastWrites = now
		s.overwritten.Store(nil)
		return nil
	}
	return s.refuse()
}

// refuse sets s.overwritten, logged the first time, and returns it.
func (s *Store) refuse() error {
	// The look can be wrong (it was, taking SQLite's own checkpoints for
	// copies): removing the WAL is advised only where the operator knows a
	// copy was put there, as it holds the appends since the last checkpoint.
	err := fmt.Errorf("%w: %w: %s, not through SQLite (cp over it?): "+
		"the server reads and writes its WAL's pages over it, and a stop copies them into it, so it would hold neither what was copied "+
		"nor the log. If a copy was put over it: stop the server, then put the copy in place again and remove %s-wal, %s-shm and tributary.lock "+
		"(or restore through SQLite while it runs: sqlite3 %s \".restore backup.db\"). "+
		"If nothing was put over it, remove nothing: %s-wal holds appends acknowledged since the last checkpoint; stop the server and start it again",
		eventstore.ErrUnavailable, eventstore.ErrOverwritten, s.path, FileName, FileName, FileName, FileName)
	if s.overwritten.Swap(&err) == nil {
		s.log.Error("the database file was overwritten while the server ran; reads, appends and /readyz are refused", "path", s.path, "error", err.Error())
	}
	return err
}
