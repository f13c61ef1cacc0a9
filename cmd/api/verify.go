package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// verify is `api verify`: with the server stopped (the embedded store
// serves one process), it checks every page of the database file in
// TRIBUTARY_DATA_DIR and every event against its checksum, writes the
// positions of those that fail into tributary.damaged (removes it where
// none does: the next start is ready), logs what it found, and fails,
// naming them, if any does. The start's own checks read a few pages and
// the events found damaged before; this reads all of them. On a read-only
// file system (a backup mounted so), or one with no room left, it reads the
// file as it is, and writes nothing.
func verify(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.LoadContext(ctx, awaitingLine(stdout)) // a DSN file FIFO awaited stops at a signal
	if err != nil {
		return err
	}
	signal.Ignore(syscall.SIGPIPE) // as run: a reader that goes away fails the log's writes
	log := newLogger(stdout, cfg.LogLevel)
	log.Info("starting", "command", "verify", "version", buildVersion())
	return verifyStore(ctx, cfg, log)
}

// verifyStore is verify on the store cfg names, logging to log.
func verifyStore(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.MySQLDSN != "" {
		return fmt.Errorf("api verify checks the embedded store's file, and %s is set: MySQL keeps no checksum of an event "+
			"(InnoDB checks its pages' own as it reads them); unset it to verify the file in %s", config.Var("MySQLDSN"), config.Var("DataDir"))
	}
	// Open would make a new, empty database where there is none.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, sqlitestore.FileName)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("there is no database file %s in %s (%s) to verify", sqlitestore.FileName, cfg.DataDir, config.Var("DataDir"))
	}
	// A backup's directory is left as it was: no lock file made for the
	// check stays beside it.
	s, err := sqlitestore.Open(ctx, cfg.DataDir, sqlitestore.Options{Logger: log, LeaveNoLockFile: true})
	full := errors.Is(err, eventstore.ErrDiskFull) || errors.Is(err, syscall.ENOSPC)
	readOnly := errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) || full
	notWritten := "the data directory is read-only to this process"
	switch {
	case full:
		// Open writes (the lock file's record, the -shm), and a full disk
		// is when an operator wants to know the file is sound before
		// moving it: verify only reads, so it reads it as it is.
		log.Info("the data directory's file system has no room left: verifying the database file as it is, read-only", "dir", cfg.DataDir, "error", err)
		notWritten = "the data directory's file system has no room left"
		s, err = sqlitestore.OpenReadOnly(ctx, cfg.DataDir, sqlitestore.Options{Logger: log})
	case errors.Is(err, syscall.EROFS):
		// A backup or a snapshot mounted read-only, which an operator
		// checks before restoring it: nothing can write it, so no lock is
		// needed; the file is read as it is.
		log.Info("the data directory is on a read-only file system: verifying the database file as it is, read-only", "dir", cfg.DataDir)
		s, err = sqlitestore.OpenReadOnly(ctx, cfg.DataDir, sqlitestore.Options{Logger: log})
	case readOnly:
		// A copy this user may read but not write (another user's files):
		// verify only reads, so it reads it as it is, as on a read-only
		// mount, rather than ask for a chown; a server that holds its lock
		// is refused (ErrInUse).
		log.Info("the data directory is not writable by this process: verifying the database file as it is, read-only", "dir", cfg.DataDir, "uid", os.Geteuid())
		s, err = sqlitestore.OpenReadOnly(ctx, cfg.DataDir, sqlitestore.Options{Logger: log})
	}
	if errors.Is(err, sqlitestore.ErrInUse) {
		return fmt.Errorf("verify the embedded store in %s: stop the server first: %w", cfg.DataDir, err)
	}
	if err != nil {
		return fmt.Errorf("verify the embedded store in %s (%s): %w", cfg.DataDir, config.Var("DataDir"), err)
	}
	v, err := s.Verify(ctx)
	if err := errors.Join(err, s.Close()); err != nil {
		return fmt.Errorf("verify the embedded store: %w", err)
	}
	if len(v.Damaged) == 0 {
		log.Info("verified: every page and every event is as written", "path", s.Path(), "events", v.Events, "duration", v.Duration)
		return nil
	}
	count := strconv.Itoa(len(v.Damaged))
	if len(v.Damaged) >= 1000 {
		count = "at least " + count
	}
	listed := make([]string, 0, 20)
	for _, p := range v.Damaged[:min(len(v.Damaged), 20)] {
		listed = append(listed, strconv.FormatInt(p, 10))
	}
	if len(v.Damaged) > len(listed) {
		listed = append(listed, "…")
	}
	written := fmt.Sprintf("all written down in %s, beside it: the server is not ready until they match",
		filepath.Join(filepath.Dir(s.Path()), sqlitestore.DamagedFileName))
	if readOnly {
		// Nothing was written: the list is only here.
		written = "not written down: " + notWritten
	}
	match := "events do not match their checksums, at positions"
	if len(v.Damaged) == 1 {
		match = "events does not match its checksum, at position"
	}
	return fmt.Errorf("the database file %s is damaged: %s of its %d %s %s "+
		"(%s); restore it from a backup", s.Path(), count, v.Events, match, strings.Join(listed, ", "), written)
}
