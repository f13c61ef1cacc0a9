package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// errNotRegular is readDSNFile's mark of a file found regular by its look
// that is no longer one when opened.
var errNotRegular = errors.New("not a regular file")

// maxDSNFile is the most a DSN file may hold: a DSN is one line.
const maxDSNFile = 64 << 10

// readDSNFiles puts the contents of TRIBUTARY_MYSQL_DSN_FILE and
// TRIBUTARY_MYSQL_READ_DSN_FILE, where set, in the DSNs they stand for, so
// that a password need not be in the environment (docker inspect,
// /proc/<pid>/environ). A DSN given both ways is refused: which one is in
// force would be a guess; the variable set but empty gives none, and a _FILE variable set but
// empty names no file. The file holds one line; its line end, and a
// UTF-8 byte order mark, are dropped. Its errors never quote what it holds,
// nor its name where that is shaped like a DSN (one given in the wrong
// variable).
func (c *Config) readDSNFiles(ctx context.Context, awaiting func(setting string, timeout time.Duration)) error {
	var errs []error
	for _, f := range []struct {
		file, dsn string
		path      string
		into      *string
	}{
		{"MySQLDSNFile", "MySQLDSN", c.MySQLDSNFile, &c.MySQLDSN},
		{"MySQLReadDSNFile", "MySQLReadDSN", c.MySQLReadDSNFile, &c.MySQLReadDSN},
	} {
		if f.path == "" {
			// Unset, or set but empty: compose.yaml lists every setting,
			// this one with an empty default, as TRIBUTARY_API_TOKENS_FILE.
			continue
		}
		// Set but empty, the variable gives no DSN: an override that
		// cannot unset it (compose's environment) empties it.
		if os.Getenv(Var(f.dsn)) != "" {
			errs = append(errs, fmt.Errorf("%s and %s are both set: give the DSN one way, the file or the variable (set but empty, the variable gives none)", Var(f.file), Var(f.dsn)))
			continue
		}
		// A secret mount's path (/run/secrets/db_dsn) is shown, to be
		// found; a relative name is not: it may be a secret set in the
		// wrong variable.
		name := "the file it names (a relative name, not shown)"
		if filepath.IsAbs(f.path) {
			name = "the file " + f.path
		}
		if dsnShaped.MatchString(f.path) {
			errs = append(errs, fmt.Errorf("%s looks like a MySQL DSN (the value is not shown): the DSN goes in %s; %s names a file holding it", Var(f.file), Var(f.dsn), Var(f.file)))
			continue
		}
		// The start fails already: a FIFO still to be read would hold
		// the failure up to the start-up timeout again, for nothing.
		if len(errs) > 0 {
			if fi, err := os.Stat(f.path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
				continue
			}
		}
		wait := func() {
			if awaiting != nil {
				awaiting(Var(f.file), c.StartupTimeout)
			}
		}
		dsn, err := readDSNFile(ctx, f.path, c.StartupTimeout, os.Stat, wait)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %w (what it holds is not shown)", Var(f.file), name, err))
			continue
		}
		*f.into = dsn
	}
	return errors.Join(errs...)
}

// readDSNFile reads the one line of a DSN file. A regular file is read at
// once; anything else (a FIFO a secret manager fills) gets timeout and ctx
// (AwaitFile), past which the read is left blocked and start-up, failing,
// ends the process.
// Its errors complete "the file NAME …". stat is os.Stat (a test's swaps
// the file after its look); awaiting is called as the wait begins.
func readDSNFile(ctx context.Context, path string, timeout time.Duration, stat func(string) (fs.FileInfo, error), awaiting func()) (string, error) {
	opened := func(f *os.File, err error) ([]byte, error) {
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) && errors.Is(pe.Err, fs.ErrPermission) {
				return nil, fmt.Errorf("cannot be opened: %w (this process runs as uid %d, gid %d)", pe.Err, os.Geteuid(), os.Getegid())
			}
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("cannot be opened: %w", pe.Err)
			}
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxDSNFile+1))
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) && errors.Is(pe.Err, syscall.EISDIR) {
				return nil, fmt.Errorf("cannot be read: %w", pe.Err)
			}
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("cannot be read: %w (a directory?)", pe.Err)
			}
			return nil, fmt.Errorf("cannot be read: %w", err)
		}
		if len(b) > maxDSNFile {
			return nil, errors.New("holds more than 64 KiB; a DSN file holds the DSN alone, on one line")
		}
		return b, nil
	}
	var b []byte
	var err error
	waited := true // whether the file is read in the bounded wait below
	fi, statErr := stat(path)
	if statErr != nil || fi.Mode().IsRegular() {
		// Opened without waiting, and looked at again: a FIFO swapped in
		// since the look blocked a plain open for good, past the
		// timeout. Such a one is waited for as one found by the look.
		f, oerr := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if oerr == nil {
			if fi, serr := f.Stat(); serr == nil && !fi.Mode().IsRegular() {
				f.Close()
				f, oerr = nil, errNotRegular
			}
		}
		if !errors.Is(oerr, errNotRegular) {
			b, err = opened(f, oerr)
			waited = false
		}
	}
	if waited {
		// A directory is no file a writer fills: its read fails at once,
		// and a wait said for it sent an operator after a secret manager.
		if statErr != nil || !fi.IsDir() {
			awaiting()
		}
		b, err = AwaitFile(ctx, timeout, func() ([]byte, error) { return opened(os.Open(path)) })
		if errors.Is(err, ErrNotWritten) {
			err = fmt.Errorf("(not a regular file: a FIFO or a pipe?) %w", err)
		}
	}
	if err != nil {
		return "", err
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	// One line end, as an editor or echo leaves it.
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return "", errors.New("holds no DSN (an empty secret, the wrong key mounted?)")
	case bytes.ContainsAny(b, "\r\n"):
		return "", errors.New("holds more than one line; a DSN file holds the DSN alone, on one line")
	case !bytes.Equal(b, bytes.TrimSpace(b)):
		return "", errors.New("holds white space before or after the DSN; remove it")
	}
	return string(b), nil
}

// ErrNotWritten marks AwaitFile's own errors: the file was not written in
// time, or the start-up stopped first.
var ErrNotWritten = errors.New("was not written and closed")

// AwaitFile returns what read returns, read being the open and read of a
// file that is no regular one (a FIFO a secret manager fills, a pipe),
// which may wait for a writer for ever: it is given timeout
// (TRIBUTARY_STARTUP_TIMEOUT) and ctx (a SIGTERM), past either of which
// read is left blocked and the start-up, failing, ends the process. Its
// own errors complete "the file NAME …": "was not written and closed
// within …" past timeout, "was not written and closed before the start-up
// stopped: CAUSE" at ctx's end, wrapping ctx's cause (a cancel). ctx's
// end is its answer even where read has returned by then too: a signal
// that came with the file stops the start-up, every time.
func AwaitFile(ctx context.Context, timeout time.Duration, read func() ([]byte, error)) ([]byte, error) {
	stopped := func() error {
		return fmt.Errorf("%w before the start-up stopped: %w", ErrNotWritten, context.Cause(ctx))
	}
	waiting, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		// A select whose two cases are ready picks either: the signal
		// is looked at again, or it let the start-up go on.
		if ctx.Err() != nil {
			return nil, stopped()
		}
		return r.b, r.err
	case <-waiting.Done():
		if ctx.Err() != nil {
			return nil, stopped()
		}
		return nil, fmt.Errorf("%w within %s (%s)", ErrNotWritten, timeout, Var("StartupTimeout"))
	}
}
