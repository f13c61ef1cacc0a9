// Package sqlitestore is the embedded implementation of eventstore.Store: an
// SQLite database file on the pure-Go driver modernc.org/sqlite (no cgo, so
// the binary stays static). It is for trying Tributary out, development,
// tests and small single-node deployments; several service instances need
// the MySQL store.
//
// The file runs in WAL mode with synchronous=FULL, so an acknowledged append
// survives a crash of the process or the machine. Appends go through the
// shared group-commit writer on a single connection whose transactions start
// with BEGIN IMMEDIATE: SQLite then holds its write lock from the start of
// each transaction to COMMIT, which serialises commits and so makes
// positions visible in the order they were assigned, as in the MySQL store.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tributary-dev/tributary/internal/eventsql"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/groupcommit"
	"github.com/tributary-dev/tributary/internal/migrations"
)

var _ eventstore.Store = (*Store)(nil)

// FileName is the database file's name inside the data directory.
const FileName = "tributary.db"

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxReaders is the size of the read pool (default 8).
	MaxReaders int
	Logger     *slog.Logger
}

// ErrInUse is returned by Open when another process has the data directory.
var ErrInUse = errors.New("data directory in use")

// Store is an event store in an SQLite file. Close it when done.
type Store struct {
	lock *os.File // held while open; nil where locking is unsupported
	eventsql.Reader
	db     *sql.DB // reads for clients
	wdb    *sql.DB // the writer's single connection
	feedDB *sql.DB // the live feed's and the readiness probe's: no client can take them
	path   string
	log    *slog.Logger
	writer *groupcommit.Writer
}

// Open opens (creating if needed) the database in dir and starts the writer.
// It does not migrate: call Migrate.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("locate database file: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every connection: wait up to 10 s for a lock instead of failing at
	// once, WAL so that readers never block the writer, FULL sync so that a
	// commit is on disk before it is acknowledged, times read back in UTC.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_timezone=UTC"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(opts.MaxReaders)
	db.SetMaxIdleConns(opts.MaxReaders)
	wdb, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		db.Close()
		unlock(lock)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	feedDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		wdb.Close()
		unlock(lock)
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	feedDB.SetMaxOpenConns(2)
	feedDB.SetMaxIdleConns(2)
	s := &Store{Reader: eventsql.Reader{DB: db, Translate: translate}, lock: lock, db: db, wdb: wdb, feedDB: feedDB, path: path, log: opts.Logger}
	if err := s.Ping(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.writer = groupcommit.New(writeBackend{wdb}, opts.Logger)
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Migrate brings the schema up to date.
func (s *Store) Migrate(ctx context.Context) error {
	return migrations.ApplySQLite(ctx, s.wdb, s.log)
}

// Close finishes the appends already handed to the writer, refuses new ones
// and closes the database.
func (s *Store) Close() error {
	s.writer.Close()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	err := errors.Join(s.db.Close(), s.wdb.Close(), s.feedDB.Close())
	unlock(s.lock)
	return err
}

// unlock releases the data directory; closing the file drops the flock.
func unlock(f *os.File) {
	if f != nil {
		f.Close()
	}
}

// Ping reports whether the database file can be read, on the live feed's
// connections.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.feedDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", translate(err))
	}
	return nil
}

// Tail implements eventstore.Store: the log on the live feed's own
// connections. A commit is durable before it is visible (synchronous=FULL),
// so WaitDurable has nothing to wait for.
func (s *Store) Tail() eventstore.LogTail {
	return tail{eventsql.Reader{DB: s.feedDB, Translate: translate}}
}

type tail struct{ eventsql.Reader }

func (tail) WaitDurable(context.Context, int64) error { return nil }

// Append implements eventstore.Store through the group-commit writer.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return s.writer.Append(ctx, req)
}

// writeBackend is the SQLite side of the group-commit writer.
type writeBackend struct{ db *sql.DB }

func (b writeBackend) WriteTx(ctx context.Context, fn func(groupcommit.Tx) error, beforeCommit func()) error {
	tx, err := b.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock from the start
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(sqliteTx{tx}); err != nil {
		return err
	}
	if beforeCommit != nil {
		beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func (writeBackend) Retryable(err error) bool {
	code := sqliteCode(err) & 0xff // the primary result code
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

func (writeBackend) Conflict(err error) bool {
	code := sqliteCode(err)
	return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func (writeBackend) Translate(err error) error { return translate(err) }

// WaitDurable has nothing to wait for: a commit is durable before it is visible.
func (writeBackend) WaitDurable(context.Context, int64) error { return nil }

// translate maps driver errors to the store's vocabulary, by result code:
// a database that cannot be written or read right now (disk full, I/O error,
// busy past the timeout, out of memory) is eventstore.ErrUnavailable.
func translate(err error) error {
	switch sqliteCode(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL:
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

// sqliteTx is one group transaction, begun IMMEDIATE.
type sqliteTx struct{ tx *sql.Tx }

// Head reads the last position. The transaction already holds SQLite's
// write lock; the process clock stamps the events (one process per file),
// never before the head's time, should the clock step back.
func (t sqliteTx) Head(ctx context.Context) (int64, time.Time, error) {
	var head int64
	var last sql.NullTime
	if err := t.tx.QueryRowContext(ctx, "SELECT position, recorded_at FROM log_head WHERE id = 1").Scan(&head, &last); err != nil {
		return 0, time.Time{}, fmt.Errorf("read log head: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if last.Valid && last.Time.After(now) {
		now = last.Time.UTC()
	}
	return head, now, nil
}

// Streams reads the group's streams.
func (t sqliteTx) Streams(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]groupcommit.StreamState, error) {
	return eventsql.Streams(ctx, t.tx, ids, "")
}

// KnownEvents looks up the event ids the group's clients chose.
func (t sqliteTx) KnownEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]groupcommit.KnownEvent, error) {
	return eventsql.KnownEvents(ctx, t.tx, ids)
}

// Insert writes rows, up to 100 a statement, well within SQLite's cap on a
// statement's placeholders.
func (t sqliteTx) Insert(ctx context.Context, rows []groupcommit.Row) error {
	const chunk = 100
	for len(rows) > 0 {
		n := min(len(rows), chunk)
		args := make([]any, 0, n*10)
		for _, r := range rows[:n] {
			args = append(args, r.Position, r.Event.ID[:], r.StreamID[:], r.Version, r.StreamType, r.Event.Type, r.Event.Data, nullable(r.Event.Metadata), r.RecordedAt, r.BatchSize)
		}
		q := "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) VALUES " +
			"(" + eventsql.Placeholders(10) + ")" + strings.Repeat(", ("+eventsql.Placeholders(10)+")", n-1)
		if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// nullable stores absent metadata as NULL rather than an empty BLOB.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func (t sqliteTx) SaveStreams(ctx context.Context, streams []groupcommit.SavedStream) error {
	args := make([]any, 0, 5*len(streams))
	for _, st := range streams {
		args = append(args, st.ID[:], st.Type, st.Version, st.CreatedAt, st.UpdatedAt)
	}
	q := "INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at) VALUES (" + eventsql.Placeholders(5) + ")" +
		strings.Repeat(", ("+eventsql.Placeholders(5)+")", len(streams)-1) +
		" ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at"
	if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("update streams: %w", err)
	}
	return nil
}

func (t sqliteTx) SetHead(ctx context.Context, position int64, recordedAt time.Time) error {
	if _, err := t.tx.ExecContext(ctx, "UPDATE log_head SET position = ?, recorded_at = ? WHERE id = 1", position, recordedAt); err != nil {
		return fmt.Errorf("advance log head: %w", err)
	}
	return nil
}
