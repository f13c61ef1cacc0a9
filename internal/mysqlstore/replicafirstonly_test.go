package mysqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAFirstOnlyPageOfAReplicaThatLostTheEventIsNotEmpty: HEAD of a
// stream's page (ReadStreamOptions.FirstOnly) reads the one event the page
// starts at; where the read replica lost it (the primary has it), the page
// yielded nothing and was not judged, so HEAD answered 200 for a page whose
// GET is refused. It now fails at the version, as the GET does; a version
// removed by hand on the primary too is still an empty page.
func TestAFirstOnlyPageOfAReplicaThatLostTheEventIsNotEmpty(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, stream := replicaWithHoles(ctx, t)
	for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
		s.otherLog.Store(nil)
		page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 2, Limit: 10, Direction: dir, FirstOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := collectPage(page.Events); err != nil || len(got) != 0 {
			t.Errorf("the first event only (direction %v) from version 2, removed on the primary too: %v, %v; want no event and no error", dir, got, err)
		}
		page, err = s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 4, Limit: 10, Direction: dir, FirstOnly: true})
		if err == nil {
			var got []int64
			got, err = collectPage(page.Events)
			if err == nil {
				t.Errorf("the first event only (direction %v) from version 4, which the replica lost and the primary has: positions %v, no error; want ErrReplicaLostEvents", dir, got)
				continue
			}
		}
		if !errors.Is(err, ErrReplicaLostEvents) {
			t.Errorf("the first event only (direction %v) from version 4, which the replica lost and the primary has: %v; want ErrReplicaLostEvents", dir, err)
		}
	}
	// Past the stream's end: nothing to judge, nothing asked.
	s.otherLog.Store(nil)
	page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 9, Limit: 10, FirstOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := collectPage(page.Events); err != nil || len(got) != 0 {
		t.Errorf("the first event only from version 9, past the stream's end: %v, %v; want no event and no error", got, err)
	}
}
