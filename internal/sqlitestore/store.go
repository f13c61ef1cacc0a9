// Package sqlitestore runs the SQL event store (package sqlstore) embedded,
// on an SQLite database file through the pure-Go driver modernc.org/sqlite
// (no cgo, so the binary stays static). It is for trying Tributary out,
// development, tests and small single-node deployments; several service
// instances need the MySQL store. It opens the pools, migrates the schema
// and locks the data directory and the database file against a second
// process.
//
// The file runs in WAL mode with synchronous=FULL, so an acknowledged append
// survives a crash of the process or the machine, and a commit is durable
// before it is visible. The writer's single connection begins its
// transactions IMMEDIATE: SQLite then holds its write lock from the start of
// each transaction to COMMIT, which serialises commits and so makes
// positions visible in the order they were assigned, as in the MySQL store.
package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

var _ eventstore.Store = (*Store)(nil)

// FileName is the database file's name inside the data directory.
const FileName = "tributary.db"

// DefaultMaxReaders is the size of the read pool unless Options say
// otherwise.
const DefaultMaxReaders = 8

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxReaders is the size of the read pool (default DefaultMaxReaders).
	MaxReaders int
	Logger     *slog.Logger
	// Metrics, if set, counts what the store does and watches its pools.
	Metrics *metrics.Metrics
	// MaxEventBytes, if not 0, is the largest data plus metadata of one
	// event the service takes (TRIBUTARY_MAX_EVENT_BYTES): Open refuses
	// one that no SQLite row could hold.
	MaxEventBytes int
	// WALLimit is the WAL's size past which the store restarts it (see
	// restartWAL; default 64 MiB).
	WALLimit int64
	// MigrateOnly: the store is opened to bring its schema up to date and
	// close (`api migrate`), not to serve: what Open logs says so.
	MigrateOnly bool
	// LeaveNoLockFile: where Open made the lock file (there was none, as
	// beside a backup), Close removes it again, while it still holds it,
	// if the store stopped cleanly (`api verify` of a backup leaves
	// nothing beside it). A lock file that was there is kept.
	LeaveNoLockFile bool
}

// ErrInUse is returned by Open when another process has the data directory,
// or the database file through another path.
var ErrInUse = errors.New("data directory in use")

// Store is an event store in an SQLite file. Close it when done.
type Store struct {
	*sqlstore.Store
	dirLock, file       *os.File // locked while open; nil where locking is unsupported
	wal                 *os.File // the WAL the connections write, where file is not nil
	keep                *sql.DB  // holds kept open, so that the WAL is never remade (see Open)
	kept                *sql.Conn
	reads, writes, feed *sql.DB // see sqlstore.Options; writes has one connection
	path                string
	log                 *slog.Logger
	m                   *metrics.Metrics // counts Ping's statements (sqlstore's Store counts the rest)
	readOnly            bool             // opened by OpenReadOnly, for Verify only
	lockMade            bool             // Options.LeaveNoLockFile, and Open made the lock file
	held                []*os.File       // OpenReadOnly's shared locks (holdNotServed), let go by Close

	// quickChecked: a quick_check (Open's) found every page sound, and
	// Verify runs none again.
	quickChecked atomic.Bool

	// damage is the error of the first statement that found the file
	// damaged (see translate); nil while none has.
	damage atomic.Pointer[error]
	// closing is set by the first Close: a second returns nil at once.
	closing atomic.Bool
	// remembered are the events found damaged, written down beside the
	// file for the next start (see remember.go).
	remembered remembered

	beforeCommit atomic.Pointer[func()] // set by tests only (export_test.go)
	whileLooking atomic.Pointer[func()] // set by tests only (export_test.go)

	// The WAL's restart (see restartWAL): walFull asks for one, walStop
	// ends the goroutine that runs them, walDone is closed when it has.
	walFound bool // a WAL was there when the store opened (checkHead)
	// startWALFound is that WAL's file info (refused), nil if none.
	startWALFound fs.FileInfo
	// created: Open made the database file, and warned of the new log;
	// migrateOnly: opened by `api migrate` (Options.MigrateOnly).
	created, migrateOnly bool

	walLimit         int64
	walFull, walStop chan struct{}
	walDone          chan struct{}
	// restarting is held by restartWAL while its checkpoint may write the
	// database file, and by the writer's look (checkWriting) while it reads
	// the file: a look never compares the file with itself as one of the
	// store's own restarts leaves it part way.
	restarting sync.Mutex
	restarts   atomic.Int64 // the WAL's restarts tried (tests count them)

	// behindSaid is set once the log's head was logged behind its events
	// (headBehind), until Ping finds it right again.
	behindSaid atomic.Bool

	// The look for a file overwritten beside SQLite (lookForOverwrite):
	// the WAL index, whether it is read, the file's state at the last look,
	// and the error while the file is found overwritten, for Ping.
	shm         *os.File
	headRoot    atomic.Int64 // log_head's page, 0 until found (findHeadPage)
	watching    bool
	fileMu      sync.Mutex
	lastWrites  fileWrites
	overwritten atomic.Pointer[error]

	// room is the look for room left after a write error (see noRoom).
	room roomCheck

	// schema is the store's tables' columns and indexes once Migrate has
	// found them as the migrations make them (see missingTable); nil before.
	schema atomic.Pointer[schema]
}

// Open opens the database in dir and starts the writer. It makes dir if
// its parent exists (a missing parent is refused: see makeDir), and a new,
// empty database only where there is no database file and no WAL, logging
// it at WARN; a file that is there but holds no database (empty, or without
// its header) is refused, as is a WAL without its database file. It does
// not migrate: call Migrate. Where it could not write the database's files
// (its WAL, its -shm) for want of room, its error wraps eventstore.ErrFull
// and eventstore.ErrDiskFull, as an append's does (see noRoomAtStart).
func Open(ctx context.Context, dir string, opts Options) (_ *Store, err error) {
	var s *Store
	lockMade := false
	defer func() {
		if err != nil && s != nil {
			err = s.noRoomAtStart(err, "this start", "start again")
		}
		if err != nil && lockMade {
			// A refused start left the lock file it made beside a backup
			// (`api verify` of one truncated or gone bad).
			removeUnheldLock(filepath.Join(dir, "tributary.lock"))
		}
	}()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dirMade, err := makeDir(dir)
	if err != nil {
		return nil, err
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("locate database file: %w", err)
	}
	_, lockErr := os.Lstat(filepath.Join(dir, "tributary.lock"))
	lockMade = opts.LeaveNoLockFile && errors.Is(lockErr, fs.ErrNotExist)
	dirLock, previous, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if err := startRecord(dirLock, previous); err != nil {
		closeFiles(dirLock)
		return nil, err
	}
	removeRoomProbes(dir)
	created, err := prepareFile(ctx, path)
	if err != nil {
		closeFiles(dirLock)
		return nil, err
	}
	if created {
		// The one trace of a log started again at position 1 where one
		// was expected (a volume not mounted, a path mistyped), which
		// the INFO lines of a start do not tell from a first run.
		// A directory that was there, empty, is likeliest a mount point
		// with nothing mounted on it.
		// One with a file system of its own mounted on it is a new
		// volume (the image's first start on Docker's or Kubernetes'
		// volume at /data), not one missing: said so, so that the line is
		// not learnt as noise where a volume is indeed not mounted.
		dataDir := filepath.Dir(path)
		where, expected, causes := "the data directory "+dataDir+" was made", "expected on a first start; ", "a volume not mounted, a mistyped path"
		switch {
		case dirMade:
		case mountPoint(dataDir):
			where, expected, causes = "the data directory "+dataDir+", a mount point, existed", "expected on a first start on a new volume; ",
				"another volume mounted there, a mistyped path"
		default:
			where, expected, causes = "the data directory "+dataDir+" existed (a mount point whose volume is not mounted?)", "", "its volume not mounted, a mistyped path"
		}
		// Under `api migrate` no server runs to be stopped: the advice is
		// to start none on it.
		do := "stop the server now"
		if opts.MigrateOnly {
			do = "start no server on it"
		}
		opts.Logger.Warn(where+": no log found; a new one was created at "+path+": "+expected+"if a log was expected here "+
			"("+causes+"), "+do+", before clients take its positions for the old log's", "path", path)
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		// Logs made before their files were made 0640 are 0644, and so is
		// a copy (a backup restored) made under the usual umask 022; their
		// permissions are the operator's to change, not the store's.
		opts.Logger.Warn(fmt.Sprintf("the database file %s is readable by every user of this host (mode %#o): a copy made under umask 022, "+
			"or a log made before new logs were made 0640; chmod o-r it and its -wal and -shm if that is not meant", path, fi.Mode().Perm()), "path", path)
	}
	warnMemoryFileSystem(opts.Logger, filepath.Dir(path))
	file, err := lockFile(path)
	if err != nil {
		closeFiles(dirLock)
		return nil, err
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = DefaultMaxReaders
	}
	dsn := openDSNOf(path)
	s = &Store{dirLock: dirLock, file: file, path: path, log: opts.Logger, lockMade: lockMade, m: opts.Metrics,
		created: created, migrateOnly: opts.MigrateOnly}
	startWAL, startWALFound, err := keepStartWAL(path)
	if err != nil {
		closeFiles(file, dirLock)
		return nil, fmt.Errorf("open %s: keep its WAL while the start checks it: %w", path, err)
	}
	s.walFound, s.startWALFound = startWAL != "", startWALFound
	// NewConnector only checks its arguments, which are fixed here; the
	// ping below finds a file that cannot be opened.
	pool := func(dsn string, size int) *sql.DB {
		c, _ := sqlite.NewConnector(dsn)
		db := sql.OpenDB(fileConnector{Connector: c, check: s.checkFile})
		db.SetMaxOpenConns(size)
		db.SetMaxIdleConns(size)
		return db
	}
	s.reads, s.writes, s.feed = pool(dsn, opts.MaxReaders), pool(dsn+"&_txlock=immediate", 1), pool(dsn, 2)
	if err := s.feed.PingContext(ctx); err != nil {
		if sqliteCode(err) == sqlite3.SQLITE_READONLY_DIRECTORY {
			s.refused(startWAL)
			// SQLite says "attempt to write a readonly database", of a
			// file that may be writable: it is the -wal it cannot make.
			return nil, fmt.Errorf("open %s: the data directory %s is read-only to this process (uid %d); the embedded store "+
				"makes its -wal and -shm files beside the database: give it to this user (chown -R %d:%d %s, as root): %w",
				path, filepath.Dir(path), os.Geteuid(), os.Geteuid(), os.Getegid(), filepath.Dir(path), err)
		}
		err = s.openFailed(translate(err))
		s.refused(startWAL)
		return nil, err
	}
	// Before the checks below, which read the store's tables: in another
	// program's file, what a table of its name lacks is not Tributary's
	// table dropped.
	if err := migrations.RefuseForeignSQLite(ctx, s.feed); err != nil {
		s.refused(startWAL)
		return nil, fmt.Errorf("open %s: %w", path, translate(err))
	}
	// A damaged page that start-up does not read would be served until a
	// read or an append came upon it. Checking every page takes 0.7 to 2.5 s
	// a million events (docs/reliability.md), so it is done only where the
	// file is not the one this store last stopped cleanly, or where a look
	// at the pages a start can afford to read finds one damaged.
	if !created {
		if err := s.checkPages(ctx, stoppedCleanly(previous, file, path)); err != nil {
			s.refused(startWAL)
			return nil, err
		}
	}
	if err := s.checkHead(ctx, previous); err != nil {
		s.refused(startWAL)
		return nil, err
	}
	if err := s.checkMaxEventBytes(ctx, opts.MaxEventBytes); err != nil {
		s.refused(startWAL)
		return nil, err
	}
	// SQLite opens a file this process may not write read-only, without a
	// word: the store would serve reads and /readyz, and refuse every
	// append as the database being unreachable. Take the write lock once.
	if err := s.checkWritable(ctx); err != nil {
		err = s.openFailed(err)
		s.refused(startWAL)
		return nil, err
	}
	if err := s.checkEvents(ctx); err != nil {
		s.refused(startWAL)
		return nil, err
	}
	// The WAL the connections have open, for checkFile. SQLite deletes it,
	// and makes another, only when its last connection closes; the driver
	// discards a connection whose statement was interrupted (a caller that
	// left), so one connection whose statements are never interrupted (it
	// runs only the WAL's restarts, see wal.go) is kept open while the
	// store is, and the WAL stays the same file.
	if s.file != nil {
		s.keep = pool(dsn, 1)
		if err := s.keepWAL(ctx); err != nil {
			s.refused(startWAL)
			return nil, fmt.Errorf("open %s: %w", path, translate(err))
		}
		if s.wal, err = os.Open(path + "-wal"); err != nil {
			s.refused(startWAL)
			return nil, fmt.Errorf("open %s: its WAL: %w", path, err)
		}
		s.watchWrites()
	}
	d := dialect
	d.Translate = s.translate
	d.CheckRead = s.checkRead
	s.Store = sqlstore.New(d, sqlstore.Options{Reads: s.reads, Writes: s.writes, Feed: s.feed,
		BeforeCommit: s.runBeforeCommit, Check: s.checkWriting, Committed: s.recordHead, Logger: opts.Logger, Metrics: opts.Metrics,
		ReadAhead: max(1, opts.MaxReaders/4)})
	opts.Metrics.Store("sqlite", map[string]*sql.DB{"reads": s.reads, "writes": s.writes, "feed": s.feed})
	if s.wal != nil {
		s.walLimit = cmp.Or(opts.WALLimit, defaultWALLimit)
		s.walFull, s.walStop, s.walDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go s.restartWAL()
	}
	dropStartWAL(startWAL)
	return s, nil
}

// openFailed is the error of a start that failed with err as SQLite opened
// the database file or first wrote it: the file is damaged if a field of its
// header is (SQLite said only "file is not a database", "unsupported file
// format", or that the file is read-only, of a write version gone bad), or
// if SQLite says so (a page count past the file's end, a text encoding gone
// bad: "database disk image is malformed"); err otherwise.
func (s *Store) openFailed(err error) error {
	if s.file != nil {
		h := make([]byte, 100)
		if _, rerr := s.file.ReadAt(h, 0); rerr == nil {
			if _, _, fault := headerFields(h); fault != nil {
				// SQLite's own words, not the store's reading of them
				// (checkWritable's "read-only to this process").
				var se *sqlite.Error
				if errors.As(err, &se) {
					err = se
				}
				return fmt.Errorf("the database file %s is damaged (%w; SQLite: %w): %s", s.path, fault, err, restoreAdvice)
			}
		}
	}
	if isDamage(err) {
		return fmt.Errorf("the database file %s is damaged (%w): %s", s.path, err, restoreAdvice)
	}
	return fmt.Errorf("open %s: %w", s.path, err)
}

// isDamage reports whether SQLite found the database file damaged.
func isDamage(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// checkMaxEventBytes refuses a largest event that no row could hold on the
// writer's connection: every append of one would fail.
func (s *Store) checkMaxEventBytes(ctx context.Context, maxEventBytes int) error {
	if maxEventBytes <= 0 {
		return nil
	}
	c, err := s.writes.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, translate(err))
	}
	defer c.Close()
	limit, err := sqlite.Limit(c, sqlite3.SQLITE_LIMIT_LENGTH, -1)
	if err != nil {
		return fmt.Errorf("open %s: read SQLite's largest row: %w", s.path, err)
	}
	if largest := maxEventBytesWithin(limit); maxEventBytes > largest {
		return fmt.Errorf("TRIBUTARY_MAX_EVENT_BYTES is %d, but the embedded store takes events of at most %d bytes of data and metadata: "+
			"SQLite stores at most %d bytes in one row, the event's other columns included, so no such event could be written; "+
			"lower it, or use MySQL", maxEventBytes, largest, limit)
	}
	return nil
}

// checkWritable writes the database header's user_version back as it is,
// in a transaction it rolls back: nothing changes, but a file this process
// may only read fails it (BEGIN IMMEDIATE alone succeeds there). Its BEGIN
// waits (busy_timeout, or until ctx ends) while another program holds the
// write lock, and then says so.
func (s *Store) checkWritable(ctx context.Context) error {
	start := time.Now()
	tx, err := s.writes.BeginTx(ctx, nil)
	if err != nil {
		if sqliteCode(err)&0xff == sqlite3.SQLITE_BUSY || errors.Is(err, context.DeadlineExceeded) {
			// SQLite's "database is locked", or the start's time's end,
			// named neither the lock nor who holds it.
			return fmt.Errorf("%w: the database's write lock was not free: another program holds it (an sqlite3 shell's "+
				"open write transaction, a backup or a restore writing the file), and this start waited %s for it; "+
				"end that program's transaction, or stop it, and start again: %w",
				eventstore.ErrUnavailable, time.Since(start).Round(time.Millisecond), err)
		}
		return fmt.Errorf("begin a write: %w", translate(err))
	}
	defer tx.Rollback() //nolint:errcheck // nothing was written
	var v int64
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read user_version: %w", translate(err))
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.FormatInt(v, 10)); err != nil {
		if sqliteCode(err)&0xff == sqlite3.SQLITE_READONLY {
			return fmt.Errorf("the database is read-only to this process (uid %d); the embedded store must write it, and its -wal and -shm files beside it: %w", os.Geteuid(), err)
		}
		return fmt.Errorf("write check: %w", translate(err))
	}
	return nil
}

// checkFile returns an error wrapping eventstore.ErrUnavailable if the
// database file is no longer at its path. The connections keep the file
// they opened, whatever becomes of its name: with the data directory
// renamed, appends went on into the moved file while new connections could
// not open it, and with the file removed (rm tributary.db*), appends were
// acknowledged into a file that no restart opens. Once the file is back
// at its path, it serves again.
func (s *Store) checkFile() error {
	if s.file == nil {
		return nil
	}
	held, err := s.file.Stat()
	if err != nil {
		return fmt.Errorf("%w: the database file %s: %w", eventstore.ErrUnavailable, s.path, err)
	}
	at, err := os.Stat(s.path)
	if err == nil && os.SameFile(held, at) {
		// SQLite keeps a WAL beside each name of the file (see lockFile):
		// after a crash, a server started on the other name would not
		// have the commits in this one's.
		if n := links(held); n > 1 {
			return fmt.Errorf("%w: the database file %s was given another name (a hard link; it has %d) while the server ran: "+
				"SQLite keeps a WAL beside each name, and after a crash the commits in this one's would not be seen through the other; "+
				"remove the other link (to back the file up, copy it)", eventstore.ErrUnavailable, s.path, n)
		}
		return s.checkWAL()
	}
	what := "another file is there now"
	if err != nil {
		what = err.Error()
	}
	return &movedError{fmt.Errorf("%w: the database file %s was moved or removed while the server ran (%s): "+
		"put it back, or restart the server where it is now", eventstore.ErrUnavailable, s.path, what)}
}

// movedError is the error of a database file moved or removed while the
// server ran: eventstore.ErrUnavailable and ErrMoved, in the words of its
// one line (errors.Join would write the sentinels on lines of their own).
type movedError struct{ err error }

func (e *movedError) Error() string   { return e.err.Error() }
func (e *movedError) Unwrap() []error { return []error{e.err, eventstore.ErrMoved} }

// keepWAL takes the connection kept open while the store is, once it has
// read the database (which opens the WAL).
func (s *Store) keepWAL(ctx context.Context) error {
	c, err := s.keep.Conn(ctx)
	if err != nil {
		return err
	}
	s.kept = c
	var v int64
	return c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
}

// checkWAL returns an error wrapping eventstore.ErrUnavailable and
// eventstore.ErrRestartNeeded if the WAL the connections write is no longer
// at its path. With tributary.db-wal removed by hand, appends were
// acknowledged into the unlinked WAL, which a crash takes with it (a
// restart opens the database file without them), and a connection opened
// afterwards made a new, empty WAL of its own beside the old one's index.
// A clean stop copies the commits into the database file, from the WAL the
// connections still have open.
func (s *Store) checkWAL() error {
	if s.wal == nil {
		return nil
	}
	held, err := s.wal.Stat()
	if err != nil {
		return fmt.Errorf("%w: the database's WAL %s-wal: %w", eventstore.ErrUnavailable, s.path, err)
	}
	at, err := os.Stat(s.path + "-wal")
	if err == nil && os.SameFile(held, at) {
		return nil
	}
	what := "another file is there now"
	if err != nil {
		what = err.Error()
	}
	return fmt.Errorf("%w: %w: the database's WAL %s-wal was removed or replaced while the server ran (%s): the commits in it would be lost in a crash; "+
		"stop the server cleanly, which copies them into the database file, and start it again", eventstore.ErrUnavailable, eventstore.ErrRestartNeeded, s.path, what)
}

// Ping implements eventstore.Store: the database answers, its file is
// still at its path and not overwritten (lookWhileReading), and no
// statement has found it damaged since it opened.
func (s *Store) Ping(ctx context.Context) error {
	if damage := s.damage.Load(); damage != nil {
		return fmt.Errorf("ping: %w", *damage)
	}
	if err := s.checkFile(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := s.lookWhileReading(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	// An index missing is returned last, once the rest passed: it fails
	// only the filtered reads, and /readyz stays 200 for it; a head behind
	// its events (every append refused) is said before it.
	// Each of the three reads below is one statement (Ping's, counted as
	// "ping" as sqlstore's Store.Ping counts its own).
	var partial error
	s.m.Statement("ping")
	if err := s.missingTable(ctx, nil); err != nil {
		if missing := (*eventstore.MissingError)(nil); !errors.As(err, &missing) || missing.Index == "" {
			return fmt.Errorf("ping: %w", err)
		}
		partial = fmt.Errorf("ping: %w", err)
	}
	// Only the damage, or the head's row missing (every append fails): a
	// schema not migrated yet has no log_head to read.
	s.m.Statement("ping")
	if err := s.headBehind(ctx); errors.Is(err, eventstore.ErrDamaged) || errors.Is(err, errHeadRowMissing) {
		return fmt.Errorf("ping: %w", err)
	} else if err == nil {
		s.behindSaid.Store(false)
	}
	// A column the store does not write, NOT NULL without a default (a
	// table rebuilt by hand): a partial finding too, as MySQL's, since
	// reads go on (/readyz stays 200, saying appends are refused).
	s.m.Statement("ping")
	unwritten, err := s.unwritten(ctx)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return errors.Join(unwritten, partial)
}

// unwrittenColumns finds the columns of the tables the store inserts rows
// into that take neither NULL nor a default: unless the store writes them
// (written), the appends that insert into their table fail.
const unwrittenColumns = "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p " +
	"WHERE m.type = 'table' AND m.name IN ('events', 'streams') AND p.\"notnull\" = 1 AND p.dflt_value IS NULL"

// written are the columns the store's INSERTs write, as table.column.
var written = map[string]bool{
	"events.position": true, "events.event_id": true, "events.stream_id": true, "events.stream_version": true,
	"events.stream_type": true, "events.event_type": true, "events.data": true, "events.metadata": true,
	"events.recorded_at": true, "events.batch_size": true, "events.checksum": true,
	"streams.stream_id": true, "streams.stream_type": true, "streams.created_at": true,
}

// unwritten returns, wrapped for Ping, an *eventstore.UnwrittenColumnError
// naming the first column of unwrittenColumns that the store does not
// write, nil if there is none; or the error of the look itself.
func (s *Store) unwritten(ctx context.Context) (found, err error) {
	rows, err := s.feed.QueryContext(ctx, unwrittenColumns)
	if err != nil {
		return nil, s.translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return nil, s.translate(err)
		}
		if !written[table+"."+column] {
			return fmt.Errorf("ping: %w", &eventstore.UnwrittenColumnError{Table: table, Column: column, Mend: dropColumn(table, column)}), nil
		}
	}
	return nil, s.translate(rows.Err())
}

// runBeforeCommit runs the hook a test set, if any.
func (s *Store) runBeforeCommit() {
	if f := s.beforeCommit.Load(); f != nil {
		(*f)()
	}
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Migrate brings the schema up to date. Where a migration could not write
// the database's files for want of room, its error wraps eventstore.ErrFull
// and eventstore.ErrDiskFull (see noRoomAtStart).
func (s *Store) Migrate(ctx context.Context) error {
	// A file a first start made and was stopped before it migrated (a
	// signal) holds no log: Open, finding the file, said nothing of one.
	newLog := !s.created && s.unfinishedNewLog(ctx)
	if err := s.applyMigrations(ctx); err != nil {
		return s.noRoomAtStart(err, "the migrations", "migrate again (start the server, or run api migrate)")
	}
	if newLog {
		do := "stop the server now"
		if s.migrateOnly {
			do = "start no server on it"
		}
		s.log.Warn("the database file "+s.path+" held no log yet (a first start stopped before its migrations completed): no log found; "+
			"a new one was created in it: if a log was expected here (a volume not mounted, a mistyped path), "+do+
			", before clients take its positions for the old log's", "path", s.path)
	}
	// Every step is recorded now, but a table or column dropped while the
	// server was stopped is not made again: the store would start, ready,
	// and fail every read and append of it with "no such column", a 500.
	// It is refused, as on MySQL: no retry mends it, and a start that fails
	// naming it is what an operator sees first (a running instance's 503s
	// are for what goes while it serves).
	want, err := migratedSchema()
	if err != nil {
		return fmt.Errorf("read the schema the migrations make: %w", err)
	}
	now, err := readSchema(ctx, s.reads)
	if err != nil {
		return fmt.Errorf("read the schema of %s: %w", s.path, s.translate(err))
	}
	if missing, creates := lacking(want, now); len(missing) > 0 {
		mend := ""
		if len(creates) > 0 {
			mend = fmt.Sprintf("; an index alone is made again with sqlite3 %s %q", FileName, strings.Join(creates, "; "))
		}
		return fmt.Errorf("the database file %s lacks %s, though its %s records every migration as applied: was it dropped "+
			"(in an sqlite3 shell, while the server was stopped)? the store's statements that use it would fail; restore the file from a backup "+
			"(a start, or `api migrate`, does not make it again)%s", s.path, strings.Join(missing, ", "), migrations.VersionTable, mend)
	}
	// Nor is a key column of another type, or an index of the store's name
	// that is not the migrations' (other columns, collation, partial): the
	// names alone passed them, and the store ran without its guards.
	if err := unlikeError(s.path, want, now); err != nil {
		return err
	}
	// What the store's statements use, for missingTable.
	s.schema.Store(&want)
	if s.shm != nil {
		s.findHeadPage(ctx)
	}
	// A log head behind its events is said at start-up (logged once): the
	// store starts, not ready until it is mended (Ping). The look only
	// says: a failure of it fails no start.
	s.headBehind(ctx) //nolint:errcheck // logged there
	return nil
}

// unfinishedNewLog reports whether the database file holds a new log whose
// migrations are not all applied: its version table (if any) does not
// record the newest, and it holds no event (no events table, or an empty
// one). An empty log of an earlier release, being upgraded, is one too:
// clients can hold no position of it. A look that fails says no.
func (s *Store) unfinishedNewLog(ctx context.Context) bool {
	has := func(table string) (bool, error) {
		var n int
		err := s.feed.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&n)
		return n > 0, err
	}
	versioned, err := has(migrations.VersionTable)
	if err != nil {
		return false
	}
	if versioned {
		var recorded int64
		if err := s.feed.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM "+migrations.VersionTable+" WHERE is_applied").
			Scan(&recorded); err != nil || recorded >= int64(migrations.Latest("sqlite")) {
			return false
		}
	}
	events, err := has("events")
	if err != nil {
		return false
	}
	if !events {
		return true
	}
	var some bool
	if err := s.feed.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events)").Scan(&some); err != nil {
		return false
	}
	return !some
}

// Close finishes the appends already handed to the writer, refuses new ones
// and closes the database. Where its copy of the WAL into the database file
// fails (a full disk), the WAL is left beside the file with appends the file
// does not hold: it returns an error saying so, for the caller to say once
// (it logs nothing of it itself).
func (s *Store) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil // closed already: a second close finds nothing to do
	}
	if s.readOnly {
		return s.closeReadOnly()
	}
	s.Store.Close()
	if s.walStop != nil {
		close(s.walStop)
		<-s.walDone
	}
	whole, checkpoint := s.finalCheckpoint()
	err := s.closePools()
	// Where the WAL was removed from its path while the store ran, the
	// connections' close leaves what the checkpoint did not copy in the
	// removed file alone, which goes with the descriptor below.
	var kept error
	if !whole && errors.Is(s.checkWAL(), eventstore.ErrRestartNeeded) {
		kept = s.keepRemovedWAL(checkpoint)
	}
	// A file found damaged is not recorded as stopped cleanly: the next
	// start checks every page, and refuses a damaged one (quick_check
	// reads no JSON: an event's damaged data is found again when read).
	if err == nil && s.damage.Load() == nil && s.overwritten.Load() == nil {
		s.markStopped()
	}
	// A lock file this store made (a verify's), damage or not: removed while
	// held, so that a server started meanwhile was refused, and one started
	// after makes its own (a damaged file's mark, tributary.damaged, stays).
	if _, werr := os.Stat(s.path + "-wal"); err == nil && s.lockMade && s.dirLock != nil && errors.Is(werr, fs.ErrNotExist) {
		os.Remove(s.dirLock.Name()) //nolint:errcheck // at worst, it is left as before
	}
	closeFiles(s.shm, s.wal, s.file, s.dirLock)
	if kept != nil {
		return errors.Join(err, kept)
	}
	return errors.Join(err, s.walLeft(checkpoint))
}

// finalCheckpoint copies the WAL into the database file, as the close of
// the last connection does next, on the connection kept open, and returns
// whether it copied every frame, and its error (the close's own says
// nothing of one that fails). A checkpoint that other processes' readers hold
// up is no error: the WAL stays beside the file, for the next start.
func (s *Store) finalCheckpoint() (whole bool, err error) {
	if s.kept == nil {
		return true, nil
	}
	var busy, frames, copied int64
	err = s.kept.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied)
	if err != nil {
		return false, s.translate(err)
	}
	return copied == frames, nil
}

// keepRemovedWAL writes the WAL the connections wrote, removed from its
// path while the store ran, back to its path (never over another file
// there), once the stop's checkpoint (whose error is checkpoint) could not
// copy all of it into the database file (another program's read
// transaction held it up, or the disk is full): its commits are
// acknowledged appends, which the next start reads from it. It returns the
// error Close returns, saying where the commits are: the caller says it,
// once (the binary, on stderr).
func (s *Store) keepRemovedWAL(checkpoint error) error {
	why := "another program's read transaction held it up"
	if checkpoint != nil {
		why = checkpoint.Error()
	}
	wal := s.path + "-wal"
	tmp := wal + ".stop"
	err := func() error {
		fi, err := s.wal.Stat()
		if err != nil {
			return err
		}
		// One left by a stop that was killed may be a second name of the
		// WAL now at its path: truncated, it would empty that WAL.
		if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(dst, io.NewSectionReader(s.wal, 0, fi.Size()))
		if err := errors.Join(err, dst.Sync(), dst.Close()); err != nil {
			os.Remove(tmp) //nolint:errcheck // the error says the commits are lost
			return err
		}
		return nil
	}()
	if err != nil {
		err = fmt.Errorf("the stop could not copy the commits of %s, which was removed while the server ran, into the database file (%s), "+
			"nor write them back beside it (%w): the appends acknowledged since the last checkpoint are lost; restore %s from a backup",
			wal, why, err, FileName)
		return err
	}
	if err := os.Link(tmp, wal); err != nil {
		err = fmt.Errorf("the stop could not copy the commits of %s, which was removed while the server ran, into the database file (%s): "+
			"they are in %s, and another file is at %s now (%w); stop what made it, put %s in its place, and start again",
			wal, why, tmp, wal, err, tmp)
		return err
	}
	os.Remove(tmp)                 //nolint:errcheck // a second name of the WAL, which the next stop that writes one removes first
	syncPath(filepath.Dir(s.path)) //nolint:errcheck // at worst a power cut now loses what a crash of the stop would have
	err = fmt.Errorf("the stop could not copy the commits of %s, which was removed while the server ran, into the database file (%s): "+
		"it wrote them back to %s, which the next start reads; keep it beside the file", wal, why, wal)
	return err
}

// walLeft is the error of a stop whose final checkpoint failed (checkpoint,
// finalCheckpoint's error) and left the WAL beside the file, for the caller
// to say once (the binary, on stderr): the WAL holds appends acknowledged since the last checkpoint
// that the file does not, and the file moved or copied without it loses
// them. Where the checkpoint did not fail, a WAL left (another process has
// the file open) is no error.
func (s *Store) walLeft(checkpoint error) error {
	if checkpoint == nil {
		return nil
	}
	if fi, err := os.Stat(s.path + "-wal"); err != nil || fi.Size() == 0 {
		return nil
	}
	err := fmt.Errorf("the stop could not copy the WAL into the database file %s (%w): %s-wal holds acknowledged appends "+
		"that the file does not; keep it beside the file, and move or copy the two together, never the file alone: the next start reads them",
		s.path, checkpoint, FileName)
	return err
}

// closeDBs closes the pools, then the files.
func (s *Store) closeDBs() error {
	err := s.closePools()
	closeFiles(s.shm, s.wal, s.file, s.dirLock)
	return err
}

func (s *Store) closePools() error {
	var err error
	if s.kept != nil {
		err = s.kept.Close()
	}
	if s.keep != nil {
		err = errors.Join(err, s.keep.Close())
	}
	// Before the files: closing the database file's descriptor would drop
	// the fcntl locks of any connection still open on it.
	return errors.Join(err, s.reads.Close(), s.writes.Close(), s.feed.Close())
}

// applyMigrations applies the migrations on the writer's connection with
// SQLite's temporary files on disk: a migration that makes an index on a
// log sorts all its keys, which in memory (the connections' temp_store)
// took about 130 MB per million events, where temporary files take a few.
// Where SQLite finds no writable directory for them (a read-only root file
// system), the migration that failed for it is rolled back, and they are
// applied again sorting in memory, as before. The writer's connection
// keeps its temporary files in memory again afterwards.
func (s *Store) applyMigrations(ctx context.Context) error {
	// The writer's pool has one connection: the migrations run on it. One
	// it discards is made again from the DSN, with them in memory.
	if _, err := s.writes.ExecContext(ctx, "PRAGMA temp_store = FILE"); err != nil {
		return fmt.Errorf("migrate %s: sort on temporary files: %w", s.path, s.translate(err))
	}
	err := migrations.ApplySQLite(ctx, s.writes, s.log)
	switch code := sqliteCode(err); {
	case code == sqlite3.SQLITE_IOERR_GETTEMPPATH:
		s.log.Info("no writable directory for SQLite's temporary files: migrating again with them in memory", "error", err)
		if _, merr := s.writes.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); merr != nil {
			return errors.Join(err, merr)
		}
		err = migrations.ApplySQLite(ctx, s.writes, s.log)
	case code&0xff == sqlite3.SQLITE_FULL:
		// A writable but small temporary directory (a tmpfs or an
		// emptyDir with a size limit), or the data directory's file
		// system full: the migration, rolled back, is applied again
		// sorting in memory, as before temporary files were tried. Where
		// the data directory is what is full, that fails too, and says so.
		dir, from := sqliteTempDir()
		s.log.Info("a file system SQLite writes was full during a migration (its temporary directory, which the sort of an index needs "+
			"about 16 MB per million events on, or the data directory): migrating again with its temporary files in memory",
			"temporary_directory", dir, "chosen_by", from, "room_needed", s.sortRoom(ctx), "error", err)
		if _, merr := s.writes.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); merr != nil {
			return errors.Join(err, merr)
		}
		if err = migrations.ApplySQLite(ctx, s.writes, s.log); err != nil {
			err = fmt.Errorf("migrate %s: sorting on temporary files in %s (%s; SQLITE_TMPDIR chooses it) filled a file system, "+
				"and sorting in memory failed too: %w", s.path, dir, from, s.translate(err))
		}
	}
	if _, merr := s.writes.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = MEMORY"); merr != nil {
		return fmt.Errorf("migrate %s: keep temporary files in memory again: %w", s.path, errors.Join(err, merr))
	}
	return err
}

// sqliteTempDir is the directory SQLite's unix VFS keeps its temporary
// files in, and what chose it: the first of SQLITE_TMPDIR, TMPDIR,
// /var/tmp, /usr/tmp, /tmp and the working directory that is a directory
// it may write ("none" where none is).
func sqliteTempDir() (dir, from string) {
	for _, d := range []struct{ dir, from string }{
		{os.Getenv("SQLITE_TMPDIR"), "SQLITE_TMPDIR"}, {os.Getenv("TMPDIR"), "TMPDIR"},
		{"/var/tmp", "the default"}, {"/usr/tmp", "the default"}, {"/tmp", "the default"}, {".", "the working directory"},
	} {
		if fi, err := os.Stat(d.dir); d.dir != "" && err == nil && fi.IsDir() && writableDir(d.dir) {
			return d.dir, d.from
		}
	}
	return "none", "no writable directory"
}

// sortRoom says about how much room the sort of an index on the log takes
// on temporary files (measured once by hand: 16 MB for 1,000,000 events).
func (s *Store) sortRoom(ctx context.Context) string {
	var events int64
	if err := s.writes.QueryRowContext(ctx, "SELECT COALESCE(MAX(position), 0) FROM events").Scan(&events); err != nil {
		return "about 16 MB per million events"
	}
	return fmt.Sprintf("about %d MB for %d events (16 MB per million)", max(1, (events*16+999_999)/1_000_000), events)
}

// closeFiles closes those of files that are not nil.
func closeFiles(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// dialect is SQLite's SQL for the event store.
var dialect = sqlstore.Dialect{
	// BEGIN IMMEDIATE takes the write lock at the start: reading the head
	// needs no lock of its own, and the process's clock stamps the events
	// (one process per file). The driver is in-process: no round trips to save.
	Begin: "BEGIN IMMEDIATE",
	// It waits there (busy_timeout) while another connection to the file
	// holds the write lock: a deadline met then is that lock's wait.
	BeginLocks: true,
	// One writer connection in one process: a commit is visible before the
	// next transaction can begin.
	VisibleInCommitOrder: true,
	// The driver reports a COMMIT whose deadline passed during its fsync
	// as failed, though it went through; it waits for no lock.
	CommitWithoutDeadline: true,
	LockHead:              "SELECT position, recorded_at FROM log_head WHERE id = 1",
	UpsertStreams:         " ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, created_at = excluded.created_at",
	MaxInsertRows:         100, // 1,000 placeholders, well within SQLite's cap
	TypePairIndex:         sqlstore.IndexedByTypePair,
	IndexHint:             sqlstore.IndexedBy,
	MaxInsertBytes:        1 << 20,
	Retryable: func(err error) bool {
		code := sqliteCode(err) & 0xff // the primary result code
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	},
	Conflict: func(err error) bool {
		code := sqliteCode(err)
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	CommitUncertain: func(err error) bool { return commitUncertainCode(sqliteCode(err)) },
	Translate:       translate,
	Sum:             eventSum,
	Replan:          replan,
}

// replan is the dialect's Replan. A connection plans a statement against
// the schema it cached, and a plan that fails there reloads nothing: where
// an index a filtered read names (INDEXED BY) was made partial while the
// server ran, then made right again, the read failed on each connection
// that had planned against the partial one with "no query solution", a 500,
// until something else read the schema there. A statement refused as
// planned (SQLITE_ERROR) has the connection read sqlite_schema, which
// reloads the schema where the file's changed, and is run once more: where
// the refusal was the statement's own, it is refused again, as it was
// (translate names what is missing). That costs a statement only on a
// read's error.
func replan(ctx context.Context, conn *sql.Conn, err error) (sent, again bool) {
	if sqliteCode(err) != sqlite3.SQLITE_ERROR {
		return false, false
	}
	var n int
	return true, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_schema").Scan(&n) == nil
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// translate maps driver errors to the store's vocabulary, by result code:
// a database that cannot be written or read right now (disk full, I/O error,
// busy past the timeout, out of memory) is eventstore.ErrUnavailable, a full
// one eventstore.ErrFull too; a
// value or row larger than SQLite stores, which no retry as sent can write,
// is eventstore.ErrTooLarge.
func translate(err error) error {
	if what := storageFailure(sqliteCode(err)); what != "" {
		return fmt.Errorf("%w: %w: %s: %w", eventstore.ErrUnavailable, eventstore.ErrStorageFailed, what, err)
	}
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_NOTNULL {
		return unwrittenColumn(err)
	}
	switch sqliteCode(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_TOOBIG:
		return tooBigError{err}
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w: %w", eventstore.ErrUnavailable, errFileSystemFull, err)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

// commitUncertainCode reports whether a COMMIT that failed with the
// result code may yet have written (sqlstore's Dialect.CommitUncertain).
// In WAL mode a commit writes its frames to the WAL file, the last one
// marked as a commit, syncs it, then adds them to the WAL's index (the
// -shm file): a sync that failed (SQLITE_IOERR_FSYNC, or the directory's
// after the file's, SQLITE_IOERR_DIR_FSYNC), or an index that could not
// grow (SQLITE_IOERR_SHMSIZE, SQLITE_IOERR_SHMMAP: a full disk) leaves the
// frames in the file, not in the index, so that a read now finds the
// commit not there and a crash before the next commit overwrites them lets
// the next start recover them. A plain SQLITE_IOERR says no more, and is
// taken as those. A write that failed (SQLITE_IOERR_WRITE, SQLITE_FULL)
// never wrote the commit's last frame, which is the one that marks it
// (the unix VFS pads none after it): not written, as a busy or locked
// database's. An error of the checkpoint a commit runs after it is not
// the COMMIT's (SQLite's default WAL hook drops it).
func commitUncertainCode(code int) bool {
	switch code {
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_IOERR_FSYNC, sqlite3.SQLITE_IOERR_DIR_FSYNC,
		sqlite3.SQLITE_IOERR_SHMSIZE, sqlite3.SQLITE_IOERR_SHMMAP:
		return true
	}
	return false
}

// unwrittenColumn is the error of an INSERT that SQLite refused for a NULL
// in a NOT NULL column (SQLITE_CONSTRAINT_NOTNULL): the store writes every
// column of its tables but those with a default, never a NULL, so the
// column is one it does not write, without a default (a table rebuilt by
// hand: SQLite's ALTER TABLE adds none such), and every append fails. As
// MySQL's 1364 (mysqlstore), it is named, from SQLite's words ("NOT NULL
// constraint failed: streams.legacy").
func unwrittenColumn(err error) error {
	e := &eventstore.UnwrittenColumnError{Column: "(named in the database's error)", Err: err}
	if _, name, ok := strings.Cut(err.Error(), "NOT NULL constraint failed: "); ok {
		name, _, _ = strings.Cut(name, " ")
		if table, column, ok := strings.Cut(name, "."); ok {
			e.Table, e.Column = table, column
		}
	}
	e.Mend = dropColumn(e.Table, e.Column)
	return e
}

// dropColumn is how an operator mends a column of table that the store
// does not write on SQLite: drop it. The advice to give it a default, as
// on MySQL, cannot be followed (SQLite has no ALTER COLUMN; only a table
// rebuilt gives a column a default). The names are the schema's, read
// from SQLite, never a client's; table "" where SQLite's error did not say.
func dropColumn(table, column string) string {
	if table == "" {
		return "drops the column (ALTER TABLE <its table> DROP COLUMN <it>, in an sqlite3 shell: SQLite cannot give a column a default)"
	}
	return "drops the column (ALTER TABLE " + sqliteIdent(table) + " DROP COLUMN " + sqliteIdent(column) +
		", in an sqlite3 shell beside the server: SQLite cannot give a column a default)"
}

// sqliteIdent is name quoted as an identifier of SQLite's (a keyword, as
// "order", is one too once quoted).
func sqliteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// storageFailure says what failed beneath SQLite for an I/O error (its
// extended result code) that no retry mends until an operator does, or ""
// for any other code. SQLite's own words ("disk I/O error (6410)") sent an
// operator nowhere, and the 503's "try again" sent clients to retry forever.
func storageFailure(code int) string {
	switch code {
	case sqlite3.SQLITE_IOERR_GETTEMPPATH, sqlite3.SQLITE_IOERR_CONVPATH:
		return "SQLite found no writable directory for its temporary files (it tries SQLITE_TMPDIR, TMPDIR, /var/tmp, /tmp " +
			"and the working directory): give the server a writable /tmp (under a read-only root file system, mount an " +
			"emptyDir or a tmpfs there), then restart it"
	case sqlite3.SQLITE_IOERR_READ, sqlite3.SQLITE_IOERR_SHORT_READ, sqlite3.SQLITE_IOERR_WRITE, sqlite3.SQLITE_IOERR_FSYNC,
		sqlite3.SQLITE_IOERR_DIR_FSYNC, sqlite3.SQLITE_IOERR_TRUNCATE:
		return "the file system of the database's files failed a read, a write or a sync (an I/O error: a failing disk, " +
			"or a file system remounted read-only after errors): mend it, then restart the server"
	}
	return ""
}

// translate is the package's translate for the statements the store runs
// once open, which names the file system that is full (SQLITE_FULL), and
// recognises a file SQLite finds damaged (SQLITE_CORRUPT, "database disk
// image is malformed"; SQLITE_NOTADB) in a page start-up did not read:
// foundDamage's error, a 503 as for a file moved or removed, where SQLite's
// own words were a bare 500.
func (s *Store) translate(err error) error {
	switch {
	case isDamage(err):
		return s.foundDamage(err)
	case sqliteCode(err)&0xff == sqlite3.SQLITE_ERROR:
		// SQLite's "no such table: events" has the code of any error
		// in a statement: the schema says whether a table is gone.
		ctx, cancel := context.WithTimeout(context.Background(), missingWait)
		defer cancel()
		if missing := s.missingTable(ctx, err); missing != nil {
			return missing
		}
		return err
	case sqliteCode(err)&0xff == sqlite3.SQLITE_FULL:
		// The log names the disk to free space on: SQLite's "database or
		// disk is full" says neither which nor that it passes again.
		return fmt.Errorf("%w: %w: the file system of %s is full: the database file and its WAL can grow no more; "+
			"appends pass again once space is freed there: %w", eventstore.ErrUnavailable, errFileSystemFull, filepath.Dir(s.path), err)
	case isWriteError(sqliteCode(err)):
		// SQLite answers SQLITE_FULL only for a write refused with ENOSPC:
		// a quota used up (EDQUOT), or ENOSPC from a sync, is an I/O error,
		// which it does not say the errno of. A write of the store's own
		// beside the files says whether the file system has room.
		if full := s.noRoom(); full != nil {
			return fmt.Errorf("%w: %w: the file system of %s refused a write, and has no room left for this server (%w): it is full, "+
				"or a quota on it (a project or user quota, a container's size limit) is used up: the database file and its WAL can grow no more; "+
				"appends pass again once space is freed there, or the quota raised: %w",
				eventstore.ErrUnavailable, errFileSystemFull, filepath.Dir(s.path), full, err)
		}
	}
	return translate(err)
}

// isWriteError is whether an extended result code is SQLite's I/O error on
// a write, a sync or a truncation of the database's files, or on the growth
// of its -shm file (SQLITE_IOERR_SHMSIZE: a start's first connection makes
// it, and a WAL that grows grows it): one a file system with no room left
// can give (SQLITE_FULL aside).
func isWriteError(code int) bool {
	switch code {
	case sqlite3.SQLITE_IOERR_WRITE, sqlite3.SQLITE_IOERR_FSYNC, sqlite3.SQLITE_IOERR_DIR_FSYNC, sqlite3.SQLITE_IOERR_TRUNCATE,
		sqlite3.SQLITE_IOERR_SHMSIZE:
		return true
	}
	return false
}

// noRoomAtStart is err, of what (a start, the migrations) that could not
// write the database's files, said as the file system with no room left
// where it is: SQLite's error on a write (SQLITE_FULL, or an I/O error on a
// write, which a quota used up gives), and noRoom's probe finds no room.
// A start on a full disk failed with SQLite's bare "disk I/O error (4874)"
// (the -shm it could not make), where the running service names the file
// system and says it passes once space is freed. Any other err is returned
// as it is.
func (s *Store) noRoomAtStart(err error, what, again string) error {
	code := sqliteCode(err)
	if code&0xff != sqlite3.SQLITE_FULL && !isWriteError(code) {
		return err
	}
	full := s.noRoom()
	if full == nil {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		err = se // SQLite's words: what wraps them (an append's "appends pass again") is not a start's
	}
	return fmt.Errorf("%w: %w: the file system of %s has no room left for this server (%w): it is full, or a quota on it "+
		"(a project or user quota, a container's size limit) is used up, and %s could not write the database's files there; "+
		"free space there, or raise the quota, and %s: %w",
		eventstore.ErrUnavailable, errFileSystemFull, filepath.Dir(s.path), full, what, again, err)
}

// roomProbe is how much noRoomIn writes: more than SQLite writes at once
// (a page, or a WAL frame), so that a file system whose room ran out
// under one of SQLite's writes has none for it either.
const roomProbe = 64 << 10

// roomZeros is what noRoomIn writes, never written to: one buffer for
// every probe.
var roomZeros = make([]byte, roomProbe)

// roomPrefix begins the name of noRoomIn's file; Open removes any left by
// a process killed while it probed.
const roomPrefix = ".tributary-room-"

// roomMemory is how long a probe's answer serves the write errors after
// it: on a failing disk every write group fails, and probed again each.
// roomWait is how long a write error waits for a probe's answer: one not
// given by then (an fsync hung on a dying disk) is no answer, the I/O
// error stays a storage failure, and the probe ends in the background.
const (
	roomMemory = time.Second
	roomWait   = time.Second
)

// roomCheck is the store's noRoomIn, one probe at a time, its answer
// remembered for roomMemory.
type roomCheck struct {
	probe func(dir string) error // noRoomIn; tests set another

	mu      sync.Mutex
	running chan struct{} // closed when the probe under way ends; nil while none is
	started time.Time     // when it started
	ended   time.Time     // when the last one ended; zero before the first
	full    error         // what it answered
}

// noRoom is noRoomIn of the data directory, run at most once a roomMemory
// and one at a time, its answer waited for no more than roomWait from its
// start: nil where none came by then.
func (s *Store) noRoom() error {
	r := &s.room
	r.mu.Lock()
	if r.running == nil && !r.ended.IsZero() && time.Since(r.ended) < roomMemory {
		full := r.full
		r.mu.Unlock()
		return full
	}
	done := r.running
	if done == nil {
		done = make(chan struct{})
		r.running, r.started = done, time.Now()
		probe := r.probe
		if probe == nil {
			probe = noRoomIn
		}
		go func() {
			full := probe(filepath.Dir(s.path))
			r.mu.Lock()
			r.running, r.ended, r.full = nil, time.Now(), full
			r.mu.Unlock()
			close(done)
		}()
	}
	wait := roomWait - time.Since(r.started)
	r.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.full
	case <-t.C:
		return nil
	}
}

// noRoomIn writes, syncs and removes a file of roomProbe bytes in dir, and
// returns the error where the file system refused it for want of room
// (ENOSPC, or EDQUOT: a quota used up), or nil (room, or another error:
// the I/O error is then what SQLite said). It runs only after a write of
// SQLite's failed.
func noRoomIn(dir string) error {
	f, err := os.CreateTemp(dir, roomPrefix+"*")
	if err == nil {
		defer os.Remove(f.Name())
		_, err = f.Write(roomZeros)
		if err == nil {
			err = f.Sync()
		}
		err = errors.Join(err, f.Close())
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return err
	}
	return nil
}

// removeRoomProbes removes the files noRoomIn left in dir, killed before
// it removed them. Nothing probes before the store is open. It reads dir's
// names, not a pattern of its path: filepath.Glob read a directory named
// data[1] as a pattern, and removed data1's.
func removeRoomProbes(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), roomPrefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// storeTables are the tables the store reads and writes, as the migrations
// make them.
var storeTables = []string{"events", "streams", "log_head"}

// missingWait bounds translate's look at the schema after a statement's
// error.
const missingWait = 2 * time.Second

// missingTable returns an eventstore.MissingError, wrapping cause, naming
// the first of the store's tables that the database file's schema lacks,
// or the first column it lacks of those the migrations make (dropped from
// an sqlite3 shell, or a file of another or an older schema restored into
// it while the server ran), or the first index it lacks of those (the
// reads of the log name theirs: INDEXED BY), with the statement that makes
// it again, or the first it has otherwise (partial, on other columns: made
// again by hand), with the statements that make it right; and nil where
// it lacks none, or where the schema cannot be read (the statement's own
// error says why). The store's statements then fail with SQLite's "no such
// table", "no such column" or "no such index", a 500, where what is
// missing is an outage for an operator to mend, as on MySQL.
func (s *Store) missingTable(ctx context.Context, cause error) error {
	now, err := readSchema(ctx, s.reads)
	if err != nil {
		return nil
	}
	if cause == nil {
		cause = fmt.Errorf("the schema of %s", s.path)
	}
	for _, table := range storeTables {
		if _, ok := now.columns[table]; !ok {
			return &eventstore.MissingError{Table: table, Err: cause}
		}
	}
	migrated := s.schema.Load()
	if migrated == nil {
		return nil
	}
	for _, table := range storeTables {
		for _, column := range migrated.columns[table] {
			if !slices.Contains(now.columns[table], column) {
				return &eventstore.MissingError{Column: table + "." + column, Err: cause}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(migrated.indexes)) {
		if _, ok := now.indexes[name]; !ok && migrated.indexes[name].create != "" {
			// Named as on MySQL (missing), with the statement that makes
			// it again (in sqlite3, beside the server): a bare unavailable
			// 503 told clients to retry, and named nothing.
			return &eventstore.MissingError{Index: name, Create: migrated.indexes[name].create, Err: cause}
		}
	}
	// One of its name made otherwise while the server runs (partial, on
	// other columns) fails the reads that name it with SQLite's "no query
	// solution", or has them miss rows: as good as gone. (One made by the
	// same statement on a table made again otherwise is the table's: no
	// index mends it, and the next start names it.)
	for _, name := range slices.Sorted(maps.Keys(migrated.indexes)) {
		want := migrated.indexes[name]
		if got, ok := now.indexes[name]; ok && want.create != "" && !got.sameAs(want) && !strings.EqualFold(got.create, want.create) {
			return &eventstore.MissingError{Index: name, Found: got.create, Create: "DROP INDEX " + name + "; " + want.create, Err: cause}
		}
	}
	return nil
}

// schema is what a database's schema holds of the store's tables: their
// columns in order, their declared types (by "table.column"), and their
// indexes by name, those their tables' constraints make among them.
type schema struct {
	columns map[string][]string
	types   map[string]string
	indexes map[string]index
}

// migratedSchema returns the store's schema as the migrations make it, read
// once from an in-memory database they migrate: what a file whose
// migrations are all recorded must hold.
var migratedSchema = sync.OnceValues(func() (schema, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return schema{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // each connection to :memory: is a database of its own
	ctx := context.Background()
	if err := migrations.ApplySQLite(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		return schema{}, err
	}
	return readSchema(ctx, db)
})

// lacking returns what of want now lacks: "the table t" for a table, "t.c"
// for a column of a table there, "the index i" for an index, with the
// statements that make those indexes again.
func lacking(want, now schema) (missing, creates []string) {
	for _, table := range storeTables {
		if _, ok := now.columns[table]; !ok {
			missing = append(missing, "the table "+table)
			continue
		}
		for _, column := range want.columns[table] {
			if !slices.Contains(now.columns[table], column) {
				missing = append(missing, table+"."+column)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want.indexes)) {
		// A constraint's index is named by its place in the table's
		// statement: unlike (see unlike) looks for it by what it is.
		if _, ok := now.indexes[name]; !ok && want.indexes[name].create != "" {
			missing = append(missing, "the index "+name)
			creates = append(creates, want.indexes[name].create)
		}
	}
	return missing, creates
}

// readSchema reads the store's tables' columns, their types and their
// indexes in db, in one statement.
func readSchema(ctx context.Context, db *sql.DB) (schema, error) {
	sc := schema{columns: map[string][]string{}, types: map[string]string{}, indexes: map[string]index{}}
	// An index's key columns (pragma_index_xinfo's key) in order, with
	// their collation and order; a column's declared type, and whether it
	// is (part of) the primary key.
	rows, err := db.QueryContext(ctx, `SELECT 'column', m.name, '', p.cid, p.name, p.type, p.pk > 0, 0, NULL
		FROM sqlite_schema AS m, pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name IN ('events', 'streams', 'log_head')
		UNION ALL SELECT 'index', m.name, l.name, x.seqno, COALESCE(x.name, '(an expression)'),
		x.coll || CASE WHEN x.desc THEN ' DESC' ELSE '' END, l."unique", l.partial, s.sql
		FROM sqlite_schema AS m, pragma_index_list(m.name) AS l, pragma_index_xinfo(l.name) AS x
		LEFT JOIN sqlite_schema AS s ON s.type = 'index' AND s.name = l.name
		WHERE m.type = 'table' AND m.name IN ('events', 'streams', 'log_head') AND x.key
		ORDER BY 1, 2, 3, 4`)
	if err != nil {
		return schema{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, table, name, column, what string
		var seq int
		var flag, partial bool
		var create sql.NullString
		if err := rows.Scan(&kind, &table, &name, &seq, &column, &what, &flag, &partial, &create); err != nil {
			return schema{}, err
		}
		if kind == "column" {
			sc.columns[table] = append(sc.columns[table], column)
			if flag {
				what += " PRIMARY KEY"
			}
			sc.types[table+"."+column] = strings.ToUpper(what)
			continue
		}
		ix := sc.indexes[name]
		ix.table, ix.create, ix.unique, ix.partial = table, create.String, flag, partial
		if what = strings.ToUpper(what); strings.HasPrefix(what, "BINARY") { // the default: not written
			column += strings.TrimPrefix(what, "BINARY")
		} else {
			column += " COLLATE " + what
		}
		ix.columns = append(ix.columns, column)
		sc.indexes[name] = ix
	}
	return sc, rows.Err()
}

// foundDamage is the error of a statement or a read that found the database
// file damaged, as cause says: it wraps eventstore.ErrUnavailable and says
// to restore the file from a backup. The first is logged, once, and fails
// Ping from then on.
func (s *Store) foundDamage(cause error) error {
	damage := fmt.Errorf("%w: %w: %s (%w): %s", eventstore.ErrUnavailable, eventstore.ErrDamaged, s.path, cause, restoreAdvice)
	if s.damage.CompareAndSwap(nil, &damage) {
		s.log.Error("the database file is damaged: what reads or writes the damaged pages fails, /readyz answers 503, "+
			"and the next start checks every page; "+restoreAdvice, "path", s.path, "error", damage.Error())
	}
	return damage
}

// tooBigError is SQLITE_TOOBIG as the store reports it. A 413 quotes its
// text to the client, so it says what to do and leaves out the driver's
// message and the statement's name, which the error still wraps.
type tooBigError struct{ cause error }

func (e tooBigError) Error() string {
	return eventstore.ErrTooLarge.Error() + ": an event's data and metadata must fit in one SQLite row " +
		"(at most 1,000,000,000 bytes as built, with the event's other columns); send it smaller"
}

func (e tooBigError) Unwrap() []error { return []error{eventstore.ErrTooLarge, e.cause} }

// rowOverhead bounds what an events row holds besides its data and
// metadata (two UUIDs, two names of at most 128 bytes, the time, three
// integers and the record's header: under 1 KiB), with room to spare.
const rowOverhead = 4096

// maxEventBytesWithin is the largest data plus metadata of one event that
// a row of at most limit bytes (SQLITE_LIMIT_LENGTH) holds.
func maxEventBytesWithin(limit int) int { return limit - rowOverhead }
