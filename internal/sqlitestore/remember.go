package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// An event's checksum is checked only as a read hands the event out:
// neither quick_check, which a start runs after a stop that was not clean,
// nor glance reads a row's content. A store that found an event damaged
// was not ready until it stopped, and ready again after a restart, until a
// read met the event again. So the positions of the events found damaged
// are written into DamagedFileName, beside the database file, and every
// start checks those events again, and the log's newest (newestChecked):
// the store is not ready while one of them is damaged, and forgets them
// (removes the file) once none is, the database file restored from a
// backup. Elsewhere, an event is checked by the read that meets it, or by
// Verify, which reads them all.

// DamagedFileName is the file beside the database file in which the store
// remembers the positions of the events it found damaged, one a line.
const DamagedFileName = "tributary.damaged"

// maxRemembered bounds the positions the file holds: one is enough to keep
// the store not ready, and Verify reports how many it found.
const maxRemembered = 1000

// remembered are the positions of the events found damaged, sorted, as the
// file beside the database holds them.
type remembered struct {
	mu        sync.Mutex
	positions []int64
}

// damagedPath is the file that remembers the events found damaged.
func (s *Store) damagedPath() string { return filepath.Join(filepath.Dir(s.path), DamagedFileName) }

// rememberDamaged adds position to the events remembered as damaged. The
// read that found it fails whatever becomes of the file: a file that
// cannot be written is logged.
func (s *Store) rememberDamaged(position int64) {
	s.remembered.mu.Lock()
	defer s.remembered.mu.Unlock()
	i, found := slices.BinarySearch(s.remembered.positions, position)
	if found || len(s.remembered.positions) >= maxRemembered {
		return
	}
	s.remembered.positions = slices.Insert(s.remembered.positions, i, position)
	if err := writeDamaged(s.damagedPath(), s.remembered.positions); err != nil {
		s.log.Warn("could not write down the damaged event for the next start, which will be ready until a read meets it again",
			"path", s.damagedPath(), "position", position, "error", err.Error())
	}
}

// damagedHeader begins the file that remembers the events found damaged.
const damagedHeader = `# The events of ` + FileName + ` found not to match their checksums (bytes gone bad in them), by position.
# Every start checks them again and is not ready (/readyz 503) while one still fails; this file is removed
# once none does (` + FileName + ` restored from a backup). "api verify" checks every event and rewrites it.
# Removing it by hand serves the file as it is, ready until a read meets a damaged event again.
`

// writeDamaged makes the file at path hold positions, or removes it if
// there are none: written beside it and renamed into place, so that a crash
// leaves the old list or the new one.
func writeDamaged(path string, positions []int64) error {
	if len(positions) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return syncPath(filepath.Dir(path))
	}
	var b strings.Builder
	b.WriteString(damagedHeader)
	for _, p := range positions {
		b.WriteString(strconv.FormatInt(p, 10) + "\n")
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o640); err != nil {
		return err
	}
	if err := syncPath(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncPath(filepath.Dir(path))
}

// readDamaged returns the positions the file at path remembers, none if
// it is not there; lines that are not positions are passed over.
func readDamaged(path string) (positions []int64, there bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		// A FIFO would hold the start for good.
		return nil, true, fmt.Errorf("%s is not a regular file (%s): remove it, or put the store's list of damaged events back", path, fi.Mode().Type())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := strconv.ParseInt(line, 10, 64)
		if err != nil || p < 1 {
			// Passed over, the damage it names would be forgotten.
			return nil, true, fmt.Errorf("%s line %d is not a position (a whole number from 1, alone on its line): "+
				"correct it, or remove it and run api verify (server stopped), which writes the list afresh", path, i+1)
		}
		positions = append(positions, p)
	}
	slices.Sort(positions)
	return slices.Compact(positions), true, nil
}

// newestChecked is how many of the log's newest events every start checks
// against their checksums: a page or two, whatever the size of the log,
// where subscribers catching up read first.
const newestChecked = 8

// checkEvents checks, at start, the log's newest events and those the file
// beside the database remembers as damaged: those damaged make the store
// not ready (foundDamage) and are remembered; once none is, the file is
// removed.
func (s *Store) checkEvents(ctx context.Context) error {
	path := s.damagedPath()
	positions, there, err := readDamaged(path)
	if err != nil {
		return fmt.Errorf("open %s: read the events found damaged before: %w", s.path, err)
	}
	bad, _, err := s.damagedEvents(ctx, "position IN (SELECT position FROM events ORDER BY position DESC LIMIT ?)", newestChecked)
	if err != nil {
		return fmt.Errorf("open %s: check the newest events: %w", s.path, s.translate(err))
	}
	// In parts: SQLite takes at most 32,766 parameters a statement, and
	// the file may have been made longer than the store writes it.
	for part := range slices.Chunk(positions, 500) {
		args := make([]any, len(part))
		for i, p := range part {
			args[i] = p
		}
		found, _, err := s.damagedEvents(ctx, "position IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args...)
		if err != nil {
			return fmt.Errorf("open %s: check the events found damaged before: %w", s.path, s.translate(err))
		}
		bad = append(bad, found...)
	}
	slices.Sort(bad)
	bad = slices.Compact(bad)
	bad = bad[:min(len(bad), maxRemembered)]
	if len(bad) == 0 {
		if !there {
			return nil
		}
		if err := writeDamaged(path, nil); err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
		s.log.Info("the events found damaged before this start match their checksums now (the file was restored): forgotten",
			"path", path, "positions", positions)
		return nil
	}
	s.remembered.positions = bad
	if !slices.Equal(bad, positions) {
		if err := writeDamaged(path, bad); err != nil {
			return fmt.Errorf("open %s: %w", s.path, err)
		}
	}
	s.foundDamage(fmt.Errorf("the event at position %d%s does not match its checksum (found at start, among the %d newest events and those written down in %s)",
		bad[0], others(len(bad)-1), newestChecked, path))
	return nil
}

// others says how many other events there are, if any.
func others(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " and 1 other"
	}
	return fmt.Sprintf(" and %d others", n)
}

// eventDamage says what is wrong with the event e, read with its checksum
// sum: it does not match it, or, stored without one, its data or metadata
// is not JSON in UTF-8, which no append wrote. It is nil for an event as
// its append wrote it.
func eventDamage(e eventstore.Event, sum sql.NullInt64) error {
	if sum.Valid {
		if eventSum(e) == sum.Int64 {
			return nil
		}
		return fmt.Errorf("the event at position %d (version %d of stream %s) does not match its checksum: "+
			"its ids, types, data or metadata are not what its append wrote", e.Position, e.Version, e.StreamID)
	}
	if utf8.Valid(e.Data) && json.Valid(e.Data) && (e.Metadata == nil || utf8.Valid(e.Metadata) && json.Valid(e.Metadata)) {
		return nil
	}
	return fmt.Errorf("the event at position %d (version %d of stream %s) holds data or metadata that is not JSON in UTF-8, as no append wrote it",
		e.Position, e.Version, e.StreamID)
}

// damagedEvents checks the events where says (an SQL condition on the
// events table, with args), in the order of their positions, and returns
// the positions of those that eventDamage finds damaged (at most
// maxRemembered of them) and how many it checked. A file without the events
// table has none; one without the checksum column (not migrated yet) has
// its events checked as JSON.
func (s *Store) damagedEvents(ctx context.Context, where string, args ...any) (bad []int64, checked int64, err error) {
	var table, summed bool
	rows, err := s.feed.QueryContext(ctx, "SELECT name FROM pragma_table_info('events') WHERE name IN ('position', 'checksum')")
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, 0, err
		}
		table, summed = true, summed || name == "checksum"
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || !table {
		return nil, 0, err
	}
	sum := "NULL"
	if summed {
		sum = "checksum"
	}
	rows, err = s.feed.QueryContext(ctx, "SELECT position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, "+sum+
		" FROM events WHERE "+where+" ORDER BY position", args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var e eventstore.Event
		var rawID, rawStream []byte
		var sum sql.NullInt64
		if err := rows.Scan(&e.Position, &rawID, &rawStream, &e.Version, &e.StreamType, &e.Type, &e.Data, &e.Metadata, &sum); err != nil {
			return bad, checked, err
		}
		checked++
		var err1, err2 error
		e.ID, err1 = uuid.FromBytes(rawID)
		e.StreamID, err2 = uuid.FromBytes(rawStream)
		if errors.Join(err1, err2) != nil || eventDamage(e, sum) != nil {
			if len(bad) < maxRemembered {
				bad = append(bad, e.Position)
			}
		}
	}
	return bad, checked, rows.Err()
}
