package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
)

// OpenReadOnly opens the database in dir as it is, for Verify only, where
// the directory cannot be written (a backup or a snapshot on a read-only
// mount, or a copy this process may read but not write: Open's lock file,
// and SQLite's -shm, cannot be made there). It refuses, with ErrInUse, a
// directory whose lock, or a database file whose own, a server holds, and
// holds shared locks on both until it is closed: a server started meanwhile
// is refused (ErrInUse). It writes nothing: SQLite reads the file as immutable, so
// it must be a stopped store's, with no WAL beside it (a clean stop leaves
// none); one with a WAL is refused, as its commits would not be read. Verify
// then writes no DamagedFileName. Close it when done; it serves nothing
// else.
func OpenReadOnly(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("locate database file: %w", err)
	}
	if err := checkOwned(path); err != nil {
		return nil, err
	}
	held, err := holdNotServed(filepath.Dir(path), path)
	if err != nil {
		return nil, err
	}
	s, err := openReadOnly(ctx, path, opts, held)
	if err != nil {
		closeFiles(held...)
		return nil, err
	}
	return s, nil
}

// openReadOnly is OpenReadOnly once the locks held are taken, which the
// store it returns keeps until it is closed.
func openReadOnly(ctx context.Context, path string, opts Options, held []*os.File) (*Store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("look at the database file: %w", err)
	}
	if ok, err := hasHeader(path); err != nil || !ok {
		return nil, fmt.Errorf("the database file %s (%d bytes) does not begin with an SQLite header (%v): truncated or overwritten, "+
			"or another file; restore it from another backup", path, fi.Size(), err)
	}
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		return nil, fmt.Errorf("%s-wal (%d bytes) is beside the database file, in a directory this process may not write (a read-only file system, or "+
			"its permissions): it holds commits the file does not, which SQLite reads only where it may write; copy the file and its -wal together to a writable "+
			"directory and verify the copy there", path, wal.Size())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("look at %s-wal: %w", path, err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1&_pragma=busy_timeout(10000)&_timezone=UTC"
	s := &Store{path: path, log: opts.Logger, readOnly: true, held: held}
	s.reads, _ = sql.Open("sqlite", dsn)
	s.feed, _ = sql.Open("sqlite", dsn)
	s.feed.SetMaxOpenConns(2)
	if err := s.feed.PingContext(ctx); err != nil {
		s.reads.Close()
		s.feed.Close()
		return nil, fmt.Errorf("open %s read-only: %w", path, translate(err))
	}
	return s, nil
}

// closeReadOnly is Close of a store OpenReadOnly opened.
func (s *Store) closeReadOnly() error {
	err := errors.Join(s.reads.Close(), s.feed.Close())
	closeFiles(s.held...) // after SQLite's connections: a server may start once they are closed
	return err
}
