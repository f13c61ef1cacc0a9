package sqlitestore_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASettingForEventsLargerThanSQLiteCanStoreIsRefusedAtOpen: SQLite
// stores at most 1,000,000,000 bytes in one row (SQLITE_MAX_LENGTH), and
// TRIBUTARY_MAX_EVENT_BYTES had no upper bound: a server configured for
// larger events started, and answered every such append with a 500. Open
// must refuse a largest event that could never be written, and take the
// largest that can.
func TestASettingForEventsLargerThanSQLiteCanStoreIsRefusedAtOpen(t *testing.T) {
	t.Parallel()
	largest := sqlitestore.MaxEventBytesWithin(1_000_000_000)
	s, err := sqlitestore.Open(t.Context(), t.TempDir(), sqlitestore.Options{MaxEventBytes: largest + 1})
	if err == nil {
		s.Close()
		t.Fatalf("Open with MaxEventBytes %d, past what one SQLite row holds: succeeded; expected it refused", largest+1)
	}
	if !strings.Contains(err.Error(), "TRIBUTARY_MAX_EVENT_BYTES") || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Open with MaxEventBytes %d: expected an error naming TRIBUTARY_MAX_EVENT_BYTES and its largest value, got %v", largest+1, err)
	}
	s, err = sqlitestore.Open(t.Context(), t.TempDir(), sqlitestore.Options{MaxEventBytes: largest})
	if err != nil {
		t.Fatalf("Open with MaxEventBytes %d, the largest one SQLite row holds: %v", largest, err)
	}
	s.Close()
}

// TestAnEventTooLargeForSQLiteIsTooLargeNotAnInternalError: an append whose
// event SQLite refuses for its size ("string or blob too big") was a 500;
// retrying it as it is can never succeed, so it must be ErrTooLarge (a
// 413), saying why, and write nothing, while an event of the largest size
// the limit allows, with the longest names, is written. SQLite's limit is
// lowered on the writer's connection, as a smaller build would have it.
func TestAnEventTooLargeForSQLiteIsTooLargeNotAnInternalError(t *testing.T) {
	t.Parallel()
	s := teststore.OpenSQLite(t, t.TempDir())
	const limit = 200_000
	if err := s.LimitLength(t.Context(), limit); err != nil {
		t.Fatal(err)
	}
	name := "N" + strings.Repeat("n", eventstore.MaxNameLength-1)
	event := func(n int) eventstore.AppendRequest {
		data := []byte(`"` + strings.Repeat("x", n-2) + `"`)
		return eventstore.AppendRequest{StreamID: uuid.New(), StreamType: name,
			Events: []eventstore.NewEvent{{Type: name, Data: data}}}
	}
	_, err := s.Append(t.Context(), event(limit+1))
	if !errors.Is(err, eventstore.ErrTooLarge) {
		t.Fatalf("append of an event of %d bytes, past SQLite's limit of %d: err = %v, expected ErrTooLarge", limit+1, limit, err)
	}
	if !strings.Contains(err.Error(), "smaller") {
		t.Errorf("append of an event past SQLite's limit: expected an error saying to make it smaller, got %v", err)
	}
	if head, err := s.Head(t.Context()); err != nil || head != 0 {
		t.Errorf("after the refused append the head is %d (%v), expected 0: nothing written", head, err)
	}
	largest := sqlitestore.MaxEventBytesWithin(limit)
	if _, err := s.Append(t.Context(), event(largest)); err != nil {
		t.Errorf("append of an event of %d bytes, the largest MaxEventBytesWithin(%d) allows, with %d-character names: %v",
			largest, limit, eventstore.MaxNameLength, err)
	}
}

// TestAnEventTooLargeForSQLiteFailsOnlyItsOwnAppendInAGroup: appends that
// wait together go in one transaction; the one SQLite refuses as too big
// must fail alone, as ErrTooLarge, and the others be written. The first
// append's commit is held until the other five are waiting to hand their
// appends to the writer (counted by it, not guessed from a sleep), so
// that the writer takes them as one group once it is released.
func TestAnEventTooLargeForSQLiteFailsOnlyItsOwnAppendInAGroup(t *testing.T) {
	t.Parallel()
	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), t.TempDir(), sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	const limit = 200_000
	if err := s.LimitLength(t.Context(), limit); err != nil {
		t.Fatal(err)
	}
	appendOf := func(n int) error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`"` + strings.Repeat("x", n-2) + `"`)}}})
		return err
	}
	released, held := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(released) })
	defer release() // before Close, should the test end early
	var hold sync.Once
	s.SetBeforeCommit(func() { hold.Do(func() { close(held); <-released }) })
	first := make(chan error, 1)
	go func() { first <- appendOf(10) }()
	select {
	case <-held:
	case err := <-first:
		t.Fatalf("the first append ended (%v) before its commit was held", err)
	}
	errs := make(chan error, 5)
	big := make(chan error, 1)
	go func() { big <- appendOf(limit + 1) }()
	for range 4 {
		go func() { errs <- appendOf(10) }()
	}
	waitForAppendsQueued(t, s, 5)
	release()
	if err := <-first; err != nil {
		t.Fatalf("the first append: %v", err)
	}
	if err := <-big; !errors.Is(err, eventstore.ErrTooLarge) {
		t.Errorf("an append past SQLite's limit, in a group: err = %v, expected ErrTooLarge", err)
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("an append of 10 bytes in a group with one past SQLite's limit: %v; expected it written", err)
		}
	}
	if head, err := s.Head(t.Context()); err != nil || head != 5 {
		t.Errorf("the head is %d (%v); expected 5, every append but the one too large", head, err)
	}
	if !strings.Contains(logs.String(), "one at a time") {
		t.Errorf("expected the appends to have gone as one group, retried one at a time; the log holds:\n%s", logs.String())
	}
}

// waitForAppendsQueued waits until n appends to s, handed to its writer
// while the test holds it, are taken for its next group (TakeQueued),
// which they then go as. It once found them by scanning every goroutine's
// stack for sqlstore's function names and the test's, which a rename broke
// without a word, then by a count of the goroutines on their way to the
// hand-off, which counted one before it got there. A minute bounds a hang.
func waitForAppendsQueued(t *testing.T, s *sqlitestore.Store, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s.TakeQueued(ctx, n); err != nil {
		t.Fatal(err)
	}
}
