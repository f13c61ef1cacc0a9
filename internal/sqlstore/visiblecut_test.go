package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALogPageThatAnswersNoEventEndsWhereItStarted: a page cut back to
// nothing by a position not yet visible below its events (a commit on its
// way, or a row removed by hand a moment ago) answered Last at its cut
// events, past the missing position, and its next link went past it: every
// reader skipped that event for good. Its Last must be its After. On both
// stores (SQLite has no such cut: its page holds the events past the hole,
// and its Last is theirs).
func TestALogPageThatAnswersNoEventEndsWhereItStarted(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := k.Open(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		appendN(t, s, uuid.New(), 7)
		k.Exec(t, s, "DELETE FROM events WHERE position = 6")
		page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 5, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		got := logPositions(drain(t, page.Events))
		want := int64(5)
		if len(got) > 0 {
			want = got[len(got)-1]
		}
		if page.Last != want {
			t.Errorf("log after 5, position 6 removed a moment ago: positions %v, Last %d; expected Last %d, where its events end (its After if none)", got, page.Last, want)
		}
	})
}
