// Package migrations holds Tributary's schema as numbered SQL files, one
// folder per SQL dialect, embedded in the binary, and applies them with goose.
//
// MySQL DDL commits implicitly, so every MySQL file's Up holds one
// statement: goose records each version right after its statement
// succeeds, and a failure leaves the schema at a recorded version. (Only
// 00012's Down, which no command runs, has two: it says what to do if the
// second fails.) SQLite DDL is
// transactional: each SQLite file is applied and recorded in one transaction.
package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/pressly/goose/v3"
)

//go:embed mysql/*.sql sqlite/*.sql
var files embed.FS

// Latest returns the newest schema version of a dialect ("mysql" or
// "sqlite"): the number of its migration files.
func Latest(dialect string) int {
	entries, _ := fs.Glob(files, dialect+"/*.sql")
	return len(entries)
}

// VersionTable records the applied migrations.
const VersionTable = "schema_migrations"

// ApplyMySQL brings a MySQL or MariaDB database up to the newest schema. It
// holds a named lock (GET_LOCK) on a connection of its own for the whole run,
// so that several instances starting at once apply each migration exactly
// once; the others wait and then find nothing left to do. It logs each
// migration it applies.
//
// The lock is taken here rather than given to goose as a SessionLocker
// because goose's Up first asks HasPending, which takes no lock: on an empty
// database a second instance could then read the version table after it is
// created and before its first row is written.
func ApplyMySQL(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect for migrations: %w", err)
	}
	defer conn.Close()
	if err := lockMySQL(ctx, conn, log); err != nil {
		return err
	}
	defer unlockMySQL(ctx, conn, log)
	// Before anything is written: the database may be another application's.
	if err := refuseForeign(ctx, db, "mysql"); err != nil {
		return err
	}
	if err := mendVersionTable(ctx, db, log); err != nil {
		return err
	}
	session := &migrationSession{log: log}
	stop := func(ctx context.Context, cut *goose.Source) { session.endStatement(ctx, db, cut.Path, log) }
	return apply(ctx, db, goose.DialectMySQL, "mysql", log, completeCutMySQL, stop, goose.WithSessionLocker(session))
}

// CutError is the error of a migration whose statement was under way when
// the context ended (the start-up timeout, a signal): what the server
// finished of it, the next start records (completeCutMySQL).
type CutError struct {
	Version int64
	File    string
	Err     error
}

func (e *CutError) Error() string {
	return fmt.Sprintf("migration %d (%s) was cut while it ran (the next start completes what the database finished of it): %s", e.Version, e.File, e.Err)
}

func (e *CutError) Unwrap() error { return e.Err }

// apply runs dir's migrations with goose. complete (nil: none) records the
// pending migrations found done before each is run; stopCut (nil: none)
// ends on the server the statement of the migration cut by ctx's end.
func apply(ctx context.Context, db *sql.DB, dialect goose.Dialect, dir string, log *slog.Logger,
	complete func(context.Context, *sql.DB, *goose.Provider, *slog.Logger) (bool, error), stopCut func(context.Context, *goose.Source),
	opts ...goose.ProviderOption) error {
	fsys, err := fs.Sub(files, dir)
	if err != nil {
		return fmt.Errorf("open embedded %s migrations: %w", dir, err)
	}
	opts = append(opts, goose.WithTableName(VersionTable), goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	var results []*goose.MigrationResult
	if complete == nil {
		if results, err = p.Up(ctx); err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
	}
	// One by one, each looked at first: a migration found done is recorded,
	// not run again (complete).
	for complete != nil {
		if _, err := complete(ctx, db, p, log); err != nil {
			return err
		}
		r, err := p.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			break
		}
		if partial := (*goose.PartialError)(nil); errors.As(err, &partial) {
			if ctx.Err() != nil {
				if stopCut != nil {
					stopCut(ctx, partial.Failed.Source)
				}
				return &CutError{Version: partial.Failed.Source.Version, File: partial.Failed.Source.Path, Err: err}
			}
			// What failed may have been done meanwhile, by the statement
			// of a start that was cut, which the server went on with.
			if found, cerr := complete(ctx, db, p, log); cerr == nil && found {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		results = append(results, r)
	}
	for _, r := range results {
		log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	// Up ignores versions recorded past the newest it knows: a binary rolled
	// back to an earlier release, on a database a later one migrated, would
	// serve a schema it does not know. (Read after Up, which has created
	// the table; under ApplyMySQL's lock.)
	latest := int64(0)
	if sources := p.ListSources(); len(sources) > 0 {
		latest = sources[len(sources)-1].Version
	}
	recorded, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if recorded > latest {
		return fmt.Errorf("the database is at schema version %d, and this binary knows up to %d: a later release migrated it; run that release (or one after it), or restore the backup taken before it first ran (no command rolls a schema back), appends since then lost", recorded, latest)
	}
	log.Info("schema is up to date", "version", latest, "applied", len(results))
	return nil
}

// ApplySQLite brings an SQLite database up to the newest schema. The embedded
// store is used by one process, and SQLite serialises writers, so no lock is
// taken beyond the migration's own transaction.
func ApplySQLite(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	// Before anything is written: the file may be another program's.
	if err := refuseForeign(ctx, db, "sqlite"); err != nil {
		return err
	}
	// SQLite runs in this process: a cut statement ends with its context.
	return apply(ctx, db, goose.DialectSQLite3, "sqlite", log, nil, nil)
}

// lockWait is how long one GET_LOCK call waits before it tries again; the
// context bounds the whole wait.
const lockWait = 2

// longLockWait is how long a wait for the migration lock may last before it
// is worth a warning (tests shorten it).
var longLockWait = 10 * time.Second

// LockName is the SQL expression of the migration lock's name, per database
// so that two Tributary databases on one server do not wait for each other;
// MD5 keeps the name within the 64-character limit. The server frees a
// named lock by itself if the connection dies. (Exported for tests that
// hold it as another instance would.)
const LockName = "CONCAT('tributary-migrate-', MD5(IFNULL(DATABASE(), '')))"

// LockHeldError is the error of a migration that could not take the
// migration lock before its context ended: another session held it (a first
// try, which does not wait, found it held).
// errors.Is(err, context.DeadlineExceeded) holds for it when that ended it.
type LockHeldError struct {
	// Holder says which session held the lock when the wait began, and
	// what it was doing (holder's words), "" if the server did not say.
	Holder string
	Err    error
}

func (e *LockHeldError) Error() string {
	held := "another session"
	if e.Holder != "" {
		held = e.Holder
	}
	return fmt.Sprintf("take migration lock: it is held by %s (another instance migrating, or a session that took "+
		"GET_LOCK('tributary-migrate-…') and left it: KILL that connection if it is not an instance's): %s", held, e.Err.Error())
}

func (e *LockHeldError) Unwrap() error { return e.Err }

// lockMySQL takes the migration lock on conn. Found held, it says so once
// at INFO, naming the holder: instances started together each wait for
// the others' migrations, which take a moment, and that is no fault. A
// wait past longLockWait is said once more, at WARN, naming the holder as
// it is then: a migration that long, or a session that holds the lock and
// does nothing, is worth a look.
func lockMySQL(ctx context.Context, conn *sql.Conn, log *slog.Logger) error {
	wait, holder := 0, ""
	var began time.Time
	warned := false
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+LockName+", ?)", wait).Scan(&got); err != nil {
			if wait != 0 && ctx.Err() != nil {
				return &LockHeldError{Holder: holder, Err: err}
			}
			// Not known to be held: the first try, which does not wait,
			// got no answer (a database that does not answer).
			return fmt.Errorf("take migration lock: %w", err)
		}
		if got.Valid && got.Int64 == 1 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return &LockHeldError{Holder: holder, Err: err}
		}
		switch {
		case wait == 0:
			// Held: say once by whom, then wait for it.
			wait, began = lockWait, time.Now()
			h := lockHolder(ctx, conn)
			holder = h.String()
			log.Info("waiting for the migration lock, which another session holds (another instance migrating?)", h.attrs()...)
		case !warned && time.Since(began) >= longLockWait:
			warned = true
			h := lockHolder(ctx, conn)
			if s := h.String(); s != "" {
				holder = s
			}
			log.Warn("still waiting for the migration lock, which another session holds: a migration this long, or a session that "+
				"took the lock and left it (KILL it if it is not an instance's)?", append([]any{"waited", time.Since(began).Round(time.Second)}, h.attrs()...)...)
		}
	}
}

// session is what the server says of another session: its connection id
// (0: not known) and, if PROCESSLIST shows it to this user, who it is and
// what it does.
type session struct {
	id                         int64
	shown                      bool
	user, host, command, state string
	seconds                    int64
	statement                  string // the first word of its statement: never its text, which may hold a secret
}

// lockHolder is the session that holds the migration lock, as far as the
// server says (IS_USED_LOCK, then PROCESSLIST, which shows a user without
// the PROCESS privilege only its own sessions).
func lockHolder(ctx context.Context, conn *sql.Conn) session {
	var h session
	var id sql.NullInt64
	if conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+LockName+")").Scan(&id) != nil || !id.Valid {
		return h
	}
	h.id = id.Int64
	var state, info sql.NullString
	err := conn.QueryRowContext(ctx, "SELECT USER, HOST, COMMAND, TIME, STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = ?", h.id).
		Scan(&h.user, &h.host, &h.command, &h.seconds, &state, &info)
	if err != nil {
		return h
	}
	h.shown, h.state = true, state.String
	h.statement = firstWord(info.String)
	return h
}

// firstWord is the keyword a statement begins with, upper case, or "" if it
// begins otherwise (a comment, a parenthesis): never more of its text,
// which may hold a secret (another application's data, a token, a DSN).
func firstWord(statement string) string {
	statement = strings.TrimSpace(statement)
	end := strings.IndexFunc(statement, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsLetter(r) })
	if end < 0 {
		end = len(statement)
	}
	return strings.ToUpper(statement[:end])
}

func (h session) String() string {
	switch {
	case h.id == 0:
		return "" // the server did not say
	case !h.shown:
		return fmt.Sprintf("connection %d (not shown to this user in PROCESSLIST)", h.id)
	}
	doing := h.command
	if h.statement != "" {
		doing += " " + h.statement
	}
	doing += fmt.Sprintf(" for %d s", h.seconds)
	if h.state != "" {
		doing += ", " + h.state
	}
	return fmt.Sprintf("connection %d (%s@%s: %s)", h.id, h.user, h.host, doing)
}

func (h session) attrs() []any {
	if h.id == 0 {
		return nil
	}
	a := []any{"holder_connection_id", h.id}
	if h.shown {
		a = append(a, "holder_user", h.user, "holder_host", h.host, "holder_command", h.command, "holder_state", h.state,
			"holder_for", time.Duration(h.seconds)*time.Second, "holder_statement", h.statement)
	}
	return a
}

// releaseWait bounds the release of the migration lock: a server that
// answers releases it in milliseconds; one that stopped answering must not
// hold the start past its timeout or its signal (a cut migration has
// already waited up to cutStatementWait, and docker stop kills after 10 s).
const releaseWait = 2 * time.Second

// unlockMySQL releases the migration lock on conn, within releaseWait of
// its own even if ctx has ended. A release that fails ends the session
// rather than give it back to the pool: the server frees a named lock with
// its session, and a pooled session would hold it from every other
// instance's start until the pool retired it.
func unlockMySQL(ctx context.Context, conn *sql.Conn, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseWait)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK("+LockName+")"); err != nil {
		// database/sql closes a connection that returns driver.ErrBadConn.
		conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the session's end
		log.Warn("release migration lock: closed its session instead, which frees it on the server", "error", err)
	}
}
