package mysqlstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAStreamCatchUpResumedRightPastAVersionTheReplicaLostFails: a stream
// subscription resumed from version v starts after the position of v-1
// (EventPosition) and catches up with pages of the log of the stream
// (ReadAllOptions.StreamID). Where the read replica lost v itself (the
// primary has it), the page's first event was v+1, whose version was not
// judged ("the page says nothing of the version before it"): the
// subscriber was handed v+1 and never v. The first event's version is now
// judged too: the version before it must be on the replica (at or before
// the page's After); where it is not, the primary is asked for one after
// After. A version removed by hand on both, before a page's first event,
// is still served.
func TestAStreamCatchUpResumedRightPastAVersionTheReplicaLostFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, stream := replicaWithHoles(ctx, t)

	// Resumed from version 3: after version 1 (2 removed on both).
	page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 1, UpTo: 3, Limit: 10, StreamID: stream})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := collectPage(page.Events); err != nil || !slices.Equal(got, []int64{3}) {
		t.Errorf("the stream's log after 1, version 2 removed on the primary too: %v, %v; want position 3", got, err)
	}
	// A page whose After lies past the version before its first: served.
	page, err = s.ReadAll(ctx, eventstore.ReadAllOptions{After: 4, Limit: 10, StreamID: stream})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := collectPage(page.Events); err != nil || !slices.Equal(got, []int64{5}) {
		t.Errorf("the stream's log after 4 (the lost event at or before After): %v, %v; want position 5", got, err)
	}

	// Resumed from version 4, which the replica lost: after version 3.
	s.otherLog.Store(nil)
	page, err = s.ReadAll(ctx, eventstore.ReadAllOptions{After: 3, Limit: 10, StreamID: stream})
	var got []int64
	if err == nil {
		got, err = collectPage(page.Events)
	}
	if !errors.Is(err, ErrReplicaLostEvents) {
		t.Errorf("the stream's log after 3, the replica lacking version 4 at 4, which the primary has: positions %v, then %v; want ErrReplicaLostEvents before any event", got, err)
	}
	if len(got) != 0 {
		t.Errorf("the stream's log after 3: positions %v handed before the hole; want none", got)
	}
}

// BenchmarkReplicaStreamLogPage is a page of the log of one stream (a
// stream subscription's catch-up) read behind a healthy read replica: 50
// events resumed after version 50 of 100, the first event's version
// judged (lostBefore) with everything else the page costs.
func BenchmarkReplicaStreamLogPage(b *testing.B) {
	ctx := context.Background()
	primary := mysqltest.NewServer(b, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(b, "tributary")
	other := mysqltest.NewDatabase(b)
	open := func(dsn string, opts Options) *Store {
		st, err := Open(ctx, dsn, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		if err := st.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return st
	}
	replica := open(other, Options{})
	s := open(primary, Options{ReadDSN: other})
	stream := uuid.New()
	for range 100 {
		id := uuid.New()
		for _, st := range []*Store{s, replica} {
			if _, err := st.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "order", Expected: eventstore.Any,
				Events: []eventstore.NewEvent{{ID: id, Type: "Placed", Data: []byte(`{}`)}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 50, Limit: 50, StreamID: stream})
		if err != nil {
			b.Fatal(err)
		}
		if got, err := collectPage(page.Events); err != nil || len(got) != 50 {
			b.Fatal(len(got), err)
		}
	}
}
