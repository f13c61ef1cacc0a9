package sqlitestore

import (
	"context"
	"fmt"
	"time"
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
// saying the file is damaged if a page is, and the context's error if that
// ends first. Otherwise it rewrites the file that remembers the events
// found damaged (DamagedFileName) with those it found, or removes it if it
// found none, and reports them; with one found, the store is not ready.
func (s *Store) Verify(ctx context.Context) (Verification, error) {
	start := time.Now()
	if err := s.quickCheck(ctx); err != nil {
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
	s.remembered.mu.Lock()
	s.remembered.positions = bad
	err = writeDamaged(s.damagedPath(), bad)
	s.remembered.mu.Unlock()
	if err != nil {
		return Verification{}, fmt.Errorf("write down the events found damaged in %s: %w", s.damagedPath(), err)
	}
	if len(bad) > 0 {
		s.foundDamage(fmt.Errorf("the event at position %d%s does not match its checksum", bad[0], others(len(bad)-1)))
	}
	return Verification{Events: checked, Damaged: bad, Duration: time.Since(start)}, nil
}
