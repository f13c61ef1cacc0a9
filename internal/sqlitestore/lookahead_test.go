package sqlitestore_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestALogPageBeforeADamagedEventIsServed: with only the event at position
// 2 damaged (a digit of its data flipped on disk), a page of the log of
// position 1 alone failed as damaged, while that event's stream page
// answered it: the page's look-ahead row, read to tell whether more
// follow, was checked as the page's own. The page is answered, saying more
// follow; the next page meets the damage. (The store's checksum case of
// sqlstore's TestALogPageIsNotFailedByDamageJustPastIt, on the real file.)
func TestALogPageBeforeADamagedEventIsServed(t *testing.T) {
	t.Parallel()
	const marker = `"MARKER-0123456789","amount":100`
	dir := t.TempDir()
	s := openMigrated(t, dir)
	stream := uuid.New()
	for _, data := range []string{`{"n":1}`, `{"m":` + marker + `}`, `{"n":3}`} {
		req := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{{Type: "Paid", Data: []byte(data)}}}
		if _, err := s.Append(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	setByteInEvent(t, dir, marker, len(marker)-1, '8') // 100 → 108: still JSON

	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	page, err := s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1})
	if err != nil {
		t.Fatalf("a page of the log of position 1 alone, position 2 damaged: %v; want position 1", err)
	}
	var got []int64
	for e, err := range page.Events {
		if err != nil {
			t.Fatalf("a page of the log of position 1 alone, position 2 damaged: %v; want position 1", err)
		}
		got = append(got, e.Position)
	}
	if len(got) != 1 || got[0] != 1 || !page.More {
		t.Fatalf("a page of the log of position 1 alone: positions %v, more %v; want [1], more following", got, page.More)
	}
	next, err := s.ReadAll(t.Context(), eventstore.ReadAllOptions{After: 1, Limit: 1})
	if err == nil {
		for _, e := range next.Events {
			if e != nil {
				err = e
				break
			}
		}
	}
	if !errors.Is(err, eventstore.ErrDamaged) {
		t.Errorf("the page of position 2, damaged: %v; want it to meet the damage", err)
	}
}
