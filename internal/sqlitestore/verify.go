package sqlitestore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tributary-dev/tributary/internal/migrations"
)

// Verification is what Verify found.
type Verification struct {
	// Events is how many events it checked.
	Events int64
	// Damaged are the positions of the events that do not match their
	// checksums (stored without one: whose data or metadata is not JSON in
	// UTF-8), in order, at most the first 1,000.
	Damaged []int64
	// Duration is how long it took.
	Duration time.Duration
}

// Verify checks the whole database file: every page, with PRAGMA
// quick_check, and every event against its checksum. It returns an error
// saying the file is damaged if a page is, one naming what differs where a
// key column or an index is other than the migrations make it (unlikeError:
// the start refuses such a file), one saying it cannot check the
// events where events has no checksum column (checkSummed), and the
// context's error if that ends first. Otherwise it rewrites the file that remembers the events
// found damaged (DamagedFileName) with those it found, or removes it if it
// found none (not on a store OpenReadOnly opened), and reports them; with
// one found, the store is not ready.
func (s *Store) Verify(ctx context.Context) (Verification, error) {
	start := time.Now()
	// Open checked every page of a file it could not tell stopped cleanly
	// (a copy, a backup), which verify holds locked since: once is enough.
	if !s.quickChecked.Load() {
		if err := s.quickCheck(ctx); err != nil {
			return Verification{}, err
		}
	}
	if err := s.checkShape(ctx); err != nil {
		return Verification{}, err
	}
	if err := s.checkSummed(ctx); err != nil {
		return Verification{}, err
	}
	bad, checked, err := s.damagedEvents(ctx, "1")
	if err != nil {
		if ctx.Err() != nil {
			return Verification{}, fmt.Errorf("check the events of %s: %w", s.path, ctx.Err())
		}
		if isDamage(err) {
			return Verification{}, fmt.Errorf("the database file %s is damaged (%w): %s", s.path, err, restoreAdvice)
		}
		return Verification{}, fmt.Errorf("check the events of %s: %w", s.path, translate(err))
	}
	if s.readOnly {
		// Nothing can be written there: the positions are in what Verify
		// returns, and the server's next start on a writable copy checks.
		s.log.Info("the data directory is read-only: "+DamagedFileName+" is not written", "path", s.path)
	} else {
		s.remembered.mu.Lock()
		s.remembered.positions = bad
		err = writeDamaged(s.damagedPath(), bad)
		s.remembered.mu.Unlock()
	}
	if err != nil {
		return Verification{}, fmt.Errorf("write down the events found damaged in %s: %w", s.damagedPath(), err)
	}
	if len(bad) > 0 {
		s.foundDamage(fmt.Errorf("the event at position %d%s does not match its checksum", bad[0], others(len(bad)-1)))
	}
	return Verification{Events: checked, Damaged: bad, Duration: time.Since(start)}, nil
}

// checksumMigration is the migration that adds events.checksum
// (00012_add_events_checksum.sql).
const checksumMigration = 12

// checkSummed returns an error saying the events cannot be checked, and
// why, where the file's events table has no checksum column: Verify would
// otherwise find every event as written with nothing to check it against.
// Its migration recorded, the column was dropped (restore the file); not,
// the file's schema is older than the checksums (migrate it first).
func (s *Store) checkSummed(ctx context.Context) error {
	now, err := readSchema(ctx, s.reads)
	if err != nil {
		return fmt.Errorf("read the schema of %s: %w", s.path, translate(err))
	}
	if slices.Contains(now.columns["events"], "checksum") {
		return nil
	}
	var version int64
	err = s.reads.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM "+migrations.VersionTable+" WHERE is_applied").Scan(&version)
	if err != nil {
		return fmt.Errorf("cannot check the events of %s: its events table has no checksum column, and its %s cannot be read (%w)",
			s.path, migrations.VersionTable, translate(err))
	}
	if version < checksumMigration {
		return fmt.Errorf("cannot check the events of %s: its schema (version %d) is older than the events' checksums (version %d): "+
			"start the server on it once, or run `api migrate`, which brings it up to date, then verify again "+
			"(events stored before then are checked as JSON)", s.path, version, checksumMigration)
	}
	return fmt.Errorf("cannot check the events of %s: it lacks the column events.checksum, though its %s records the migration that adds it "+
		"(version %d) as applied: was it dropped (in an sqlite3 shell)? the server refuses to start on it; restore the file from a backup",
		s.path, migrations.VersionTable, checksumMigration)
}

// checkShape returns unlikeError's error where the file's key columns or
// indexes are other than the migrations make them: the start refuses such a
// file, and so does a verification, which would otherwise pass it.
func (s *Store) checkShape(ctx context.Context) error {
	want, err := migratedSchema()
	if err != nil {
		return fmt.Errorf("read the schema the migrations make: %w", err)
	}
	now, err := readSchema(ctx, s.reads)
	if err != nil {
		return fmt.Errorf("read the schema of %s: %w", s.path, translate(err))
	}
	return unlikeError(s.path, want, now)
}
