package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
)

// provider is goose's provider for dialect's embedded files ("mysql" or
// "sqlite"), recording in the same table as apply.
func provider(db *sql.DB, dialect string) (*goose.Provider, error) {
	d := goose.DialectMySQL
	if dialect == "sqlite" {
		d = goose.DialectSQLite3
	}
	fsys, err := fs.Sub(files, dialect)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(d, db, fsys, goose.WithTableName(VersionTable), goose.WithDisableGlobalRegistry(true))
}

// UpTo brings db up to version of dialect's schema, no further, as an
// older release of Tributary left it.
func UpTo(ctx context.Context, db *sql.DB, dialect string, version int64) error {
	p, err := provider(db, dialect)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// DownOne takes db's newest migration back, as an operator rolling back a
// release would.
func DownOne(ctx context.Context, db *sql.DB, dialect string) error {
	p, err := provider(db, dialect)
	if err != nil {
		return err
	}
	_, err = p.Down(ctx)
	return err
}

// SetLongLockWait sets how long a wait for the migration lock lasts before
// it is logged as a warning, and returns what puts it back. Tests that call
// it must not run in parallel.
func SetLongLockWait(d time.Duration) (restore func()) {
	was := longLockWait
	longLockWait = d
	return func() { longLockWait = was }
}

// KeysMySQL is every key the MySQL migrations make, as each migration's
// look and CheckKeysMySQL know them, one line each: table, name, unique or
// not, columns in order.
func KeysMySQL() []string {
	var lines []string
	for _, keys := range mysqlKeys {
		for _, k := range keys {
			lines = append(lines, fmt.Sprintf("%s %s unique=%t: %s", k.table, k.name, k.unique, strings.Join(k.columns, ", ")))
		}
	}
	slices.Sort(lines)
	return lines
}

// EndCutStatement records conn as goose's run of a MySQL migration records
// its session (SessionLock), with id in place of conn's connection id (the
// id another session has, on conn's server or another), and then does what
// a start whose migration version was cut does: ends, through db, the
// statement of the session of that id, if it is the migration's.
func EndCutStatement(ctx context.Context, conn *sql.Conn, id int64, db *sql.DB, version int64, log *slog.Logger) error {
	s := &migrationSession{log: log}
	read, err := readSession(ctx, conn)
	if err != nil {
		return err
	}
	m := *read
	m.id = id
	s.latest.Store(&m)
	file, err := fs.Glob(files, fmt.Sprintf("mysql/%05d_*.sql", version))
	if err != nil || len(file) != 1 {
		return fmt.Errorf("find migration %d's file: %v, %v", version, file, err)
	}
	s.endStatement(ctx, db, path.Base(file[0]), log)
	return nil
}

// FirstWord is what the log says of another session's statement.
var FirstWord = firstWord
