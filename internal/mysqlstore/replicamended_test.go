package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAReplicaGivenBackTheEventItLostIsServedAgain: a read that found the
// read replica lacking an event the primary has refuses every read "until
// the replica has it again". It does come back: while the event is
// missing, ReplicaLag (/readyz) says so as the reads do; once the event is
// on the replica again (rebuilt from the primary), the reads are served
// again with no /readyz asked (a refused read checks again), the page
// whole, and ReplicaLag is nil.
func TestAReplicaGivenBackTheEventItLostIsServedAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, stream := replicaWithHoles(ctx, t)

	page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 10})
	if err == nil {
		_, err = collectPage(page.Events)
	}
	if !errors.Is(err, ErrReplicaLostEvents) {
		t.Fatalf("a page over the event the replica lost: %v; want ErrReplicaLostEvents", err)
	}
	if _, err := s.ReplicaLag(ctx); !errors.Is(err, ErrReplicaLostEvents) {
		t.Errorf("ReplicaLag (/readyz) while reads are refused for the lost event: %v; want ErrReplicaLostEvents, as the reads say", err)
	}

	// The event given back to the replica, as the primary has it.
	rows, err := s.primary.QueryContext(ctx, "SELECT * FROM events WHERE position = 4")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		t.Fatalf("the primary lacks the event at 4: %v", rows.Err())
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	insert := "INSERT INTO events (" + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)-1) + ")"
	if _, err := s.feed.ExecContext(ctx, insert, vals...); err != nil {
		t.Fatal(err)
	}

	// No /readyz: a refused read looks again (at most each second).
	for {
		_, err := s.Stream(ctx, stream)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrReplicaLostEvents) || ctx.Err() != nil {
			t.Fatalf("a read once the replica has the event again: %v; want it served in the end", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	page, err = s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := collectPage(page.Events); err != nil || len(got) != 4 || got[2] != 4 {
		t.Errorf("the stream once the replica has the event again: positions %v, %v; want 1, 3, 4, 5", got, err)
	}
	if _, err := s.ReplicaLag(ctx); err != nil {
		t.Errorf("ReplicaLag (/readyz) once the replica has the event again: %v; want nil", err)
	}
}
