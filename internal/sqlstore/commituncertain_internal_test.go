package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestACommitThatFailedToSyncIsOfUnknownOutcome: an embedded database
// whose COMMIT failed as it synced its log (SQLite's SQLITE_IOERR_FSYNC in
// WAL mode: the commit's frames are in the WAL file, not yet in its index)
// reads as not committed, and the store answered the append "not written"
// (unavailable); a crash before the next commit overwrites those frames
// lets the next start recover them, an append written that its client was
// told was not, and sends again without ids. Such a COMMIT is of unknown
// outcome, never settled (a read now proves nothing); an error before
// COMMIT went is still not written.
func TestACommitThatFailedToSyncIsOfUnknownOutcome(t *testing.T) {
	fsync := errors.New("disk I/O error (1034)")
	w := &writer{d: Dialect{CommitUncertain: func(err error) bool { return errors.Is(err, fsync) }},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))} // no database: settle must not look
	p := &plan{head: 8, rows: []row{{Position: 8}}}
	failed := fmt.Errorf("write events and head, and commit: commit: %w", fsync)
	committed, _, err := w.settle(p, failed)
	if committed || !errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, errOutcomeUnknown) || !errors.Is(err, fsync) {
		t.Errorf("settling a COMMIT that failed to sync: committed %t, %v; want not committed, of unknown outcome, wrapping the error", committed, err)
	}
	if got := w.failure(err, 0); !errors.Is(got, eventstore.ErrOutcomeUnknown) || !errors.Is(got, eventstore.ErrUnavailable) {
		t.Errorf("the failure of a group whose COMMIT failed to sync: %v; want unavailable, of unknown outcome", got)
	}
	early := fmt.Errorf("write events and head, and commit: insert_events: %w: %w", errCommitNotSent, fsync)
	if committed, _, err := w.settle(p, early); committed || errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, fsync) {
		t.Errorf("settling a group that failed before its COMMIT went: committed %t, %v; want not committed, the error as it is", committed, err)
	}
}

// TestACommitOfUnknownOutcomeSaysWhatFailedBeneathIt: a COMMIT of unknown
// outcome (CommitUncertain: SQLite's sync of its WAL failed, or its WAL
// index could not grow) was answered, and logged, with SQLite's bare
// "disk I/O error (1034)": the dialect's translation, which names the
// file system with no room left (ErrFull, ErrDiskFull) or the storage that
// failed (ErrStorageFailed), was skipped, where the same error on any
// other statement gets it. The error is of unknown outcome first, and
// wraps the translation too.
func TestACommitOfUnknownOutcomeSaysWhatFailedBeneathIt(t *testing.T) {
	fsync := errors.New("disk I/O error (1034)")
	full := errors.New("the file system of /data has no room left")
	w := &writer{d: Dialect{
		CommitUncertain: func(err error) bool { return errors.Is(err, fsync) },
		Translate: func(err error) error {
			return fmt.Errorf("%w: %w: %w: %w", eventstore.ErrUnavailable, eventstore.ErrFull, eventstore.ErrDiskFull, errors.Join(full, err))
		},
	}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := &plan{head: 8, rows: []row{{Position: 8}}}
	_, _, err := w.settle(p, fmt.Errorf("write events and head, and commit: commit: %w", fsync))
	got := w.failure(err, 0)
	if !errors.Is(got, eventstore.ErrOutcomeUnknown) || !errors.Is(got, eventstore.ErrFull) || !errors.Is(got, eventstore.ErrDiskFull) ||
		!errors.Is(got, fsync) || !strings.Contains(got.Error(), full.Error()) {
		t.Errorf("a COMMIT that failed to sync on a full file system: %v; want of unknown outcome, and ErrFull and ErrDiskFull, "+
			"saying %q, wrapping SQLite's error", got, full)
	}
}
