package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestALostCommitThatCannotBeSettledIsOfUnknownOutcome: where a lost
// COMMIT's outcome cannot be found out (a Galera cluster: the log's lock
// on one node holds up no other node's transaction), the MySQL store left
// Lost unset, so that such an append failed with the lost connection's
// error: unavailable, "not written", when it may well have been. It is of
// unknown outcome (eventstore.ErrOutcomeUnknown), as when settling fails,
// and settle must not try (it reads under a lock that proves nothing).
func TestALostCommitThatCannotBeSettledIsOfUnknownOutcome(t *testing.T) {
	lost := errors.New("invalid connection")
	w := &writer{d: Dialect{Lost: func(err error) bool { return errors.Is(err, lost) }, CannotSettle: true},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))} // no database: settle must not look
	p := &plan{head: 8, rows: []row{{Position: 8}}}
	committed, _, err := w.settle(p, lost)
	if committed || !errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, lost) {
		t.Errorf("settling a lost COMMIT where it cannot be settled: committed %t, %v; want not committed, of unknown outcome, wrapping the lost error", committed, err)
	}
	// Lost before COMMIT went (one statement at a time): not written.
	early := fmt.Errorf("insert_events: %w: %w", errCommitNotSent, lost)
	if committed, _, err := w.settle(p, early); committed || errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, lost) {
		t.Errorf("settling a group lost before its COMMIT went: committed %t, %v; want not committed, the lost error as it is", committed, err)
	}
	// Where it can be settled too: nothing to find out (no database here).
	w.d.CannotSettle = false
	if committed, _, err := w.settle(p, early); committed || errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, lost) {
		t.Errorf("settling a group lost before its COMMIT went, where groups can be settled: committed %t, %v; want not committed, the lost error as it is", committed, err)
	}
	w.d.CannotSettle = true
	// An answer the writer could not make sense of, COMMIT having run
	// after it: not lost, yet it may have committed.
	unread := fmt.Errorf("write events and head, and commit: %w: %w", errAnswerUnread, errors.New("commit_time: the time is NULL after the writes"))
	if committed, _, err := w.settle(p, unread); committed || !errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("settling a group whose answer could not be read, where it cannot be settled: committed %t, %v; want not committed, of unknown outcome", committed, err)
	}
	// An error by which no answer was lost is the group's own, as before.
	other := errors.New("Error 1062: Duplicate entry")
	if _, _, err := w.settle(p, other); err != other {
		t.Errorf("settling a group that failed with an answer: %v; want that error as it is", err)
	}
}
