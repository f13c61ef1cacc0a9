package sqlstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// appendN appends n events to stream, one batch.
func appendN(t *testing.T, s eventstore.Store, stream uuid.UUID, n int) {
	t.Helper()
	events := make([]eventstore.NewEvent, n)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "Counted", Data: []byte(`{"n":1}`)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "counter", Events: events}); err != nil {
		t.Fatalf("append %d events: %v", n, err)
	}
}

// drain reads a page's events whole.
func drain(t *testing.T, events func(func(eventstore.Event, error) bool)) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	for e, err := range events {
		if err != nil {
			t.Fatalf("read a page's events: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// waitForReads waits until the reads ahead that s has in flight have ended,
// and returns how many read_events statements are counted then, which must
// be more than n: a read ahead sent its query. Waiting for the read to end,
// not for its query to be counted, leaves nothing of it to happen after.
func waitForReads(t *testing.T, s eventstore.Store, m *metrics.Metrics, n int) int {
	t.Helper()
	switch st := s.(type) {
	case *mysqlstore.Store:
		sqlstore.WaitReadsAhead(st.Store)
	case *sqlitestore.Store:
		sqlstore.WaitReadsAhead(st.Store)
	default:
		t.Fatalf("a store of type %T: expected a MySQL or SQLite store", s)
	}
	got := teststore.Statements(t, m, "read_events")
	if got <= n {
		t.Fatalf("no read of the next page ahead: read_events stayed %d", got)
	}
	return got
}

func streamVersions(events []eventstore.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Version
	}
	return out
}

func logPositions(events []eventstore.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Position
	}
	return out
}

func span(lo, hi int64) []int64 {
	var out []int64
	for v := lo; v <= hi; v++ {
		out = append(out, v)
	}
	return out
}

// streamReadAhead opens a counted store of kind k with a stream of n
// events (n > 20), reads the stream's page from version 11, 10 events,
// asking for the next one to be read ahead, checks the page, and waits for
// the read ahead. It returns the store, its metrics, the stream, and the
// count of read_events once the page ahead was read.
func streamReadAhead(t *testing.T, k teststore.Kind, n int) (eventstore.Store, *metrics.Metrics, uuid.UUID, int) {
	t.Helper()
	m := metrics.New("test")
	s := teststore.OpenCounted(t, k, m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := uuid.New()
	appendN(t, s, stream, n)
	before := teststore.Statements(t, m, "read_events")
	page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 11, Limit: 10, ReadAhead: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := streamVersions(drain(t, page.Events)); !slices.Equal(got, span(11, 20)) {
		t.Fatalf("page from 11: versions %v; expected 11 to 20", got)
	}
	// The page's own read, then the next one's, ahead.
	return s, m, stream, waitForReads(t, s, m, before+1)
}

// expectReadAheadAfterFirstOnly fails t unless read, the read of a page
// read ahead that a FirstOnly read of it came before, yields want (what
// says of what) from the page kept, with no read of events of its own.
func expectReadAheadAfterFirstOnly(t *testing.T, m *metrics.Metrics, what string, want []int64, read func() []int64) {
	t.Helper()
	ahead := teststore.Statements(t, m, "read_events")
	if got := read(); !slices.Equal(got, want) {
		t.Fatalf("%s %v; expected %v", what, got, want)
	}
	if got := teststore.Statements(t, m, "read_events"); got != ahead {
		t.Errorf("the page read ahead was read again after a FirstOnly read of it: read_events %d after it, %d before", got, ahead)
	}
}

// TestAStreamReadFollowingNextLinksGetsTheNextPageReadAhead: a client
// reading a stream page by page asks for each page only once it has the one
// before; the store reads the next page while it is busy with this one, and
// the next request is answered from it, with no query of events of its
// own. On both stores.
func TestAStreamReadFollowingNextLinksGetsTheNextPageReadAhead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s, m, stream, ahead := streamReadAhead(t, k, 30)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 21, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := streamVersions(drain(t, page.Events)); !slices.Equal(got, span(21, 30)) || page.Stream.Version != 30 {
			t.Fatalf("page from 21: versions %v, stream version %d; expected 21 to 30, version 30", got, page.Stream.Version)
		}
		if got := teststore.Statements(t, m, "read_events"); got != ahead {
			t.Errorf("the page read ahead was read again: read_events %d after it, %d before; expected no read of its own", got, ahead)
		}
	})
}

// TestAFirstOnlyReadLeavesThePageReadAheadForTheNextRead: HEAD of a page
// (FirstOnly) took the page read ahead for the GET that follows the next
// link, and threw it away, so the GET read it again. A FirstOnly read reads
// the page's first event alone and leaves the page read ahead where it is.
// On both stores.
func TestAFirstOnlyReadLeavesThePageReadAheadForTheNextRead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s, m, stream, _ := streamReadAhead(t, k, 30)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		head, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 21, Limit: 10, FirstOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := streamVersions(drain(t, head.Events)); !slices.Equal(got, []int64{21}) {
			t.Fatalf("page from 21, its first event only: versions %v; expected 21", got)
		}
		expectReadAheadAfterFirstOnly(t, m, "page from 21: versions", span(21, 30), func() []int64 {
			page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 21, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return streamVersions(drain(t, page.Events))
		})
	})
}

// TestAStreamPageReadAheadIsNotHandedOutOnceTheStreamGrew: the page read
// ahead ended at the stream's last version then; events appended since
// belong in the page, so the request reads it afresh, never the shorter
// page kept for it. On both stores.
func TestAStreamPageReadAheadIsNotHandedOutOnceTheStreamGrew(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s, _, stream, _ := streamReadAhead(t, k, 25) // versions 21 to 25, ahead
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		appendN(t, s, stream, 3)
		page, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{From: 21, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got := streamVersions(drain(t, page.Events)); !slices.Equal(got, span(21, 28)) || page.Stream.Version != 28 {
			t.Fatalf("page from 21 after 3 more appends: versions %v, stream version %d; expected 21 to 28, version 28", got, page.Stream.Version)
		}
	})
}

// TestALogPageIsReadAheadOnlyWhenItIsFull: a page of the log read ahead is
// handed out if it was full (its limit of events, more after it), whose
// answer cannot change; one that reached the head is not kept, so that
// events appended since are in the next read. On both stores.
func TestALogPageIsReadAheadOnlyWhenItIsFull(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		s := teststore.OpenCounted(t, k, m)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stream := uuid.New()
		appendN(t, s, stream, 30)
		read := func(after int64, ahead bool) (eventstore.LogPage, []int64) {
			t.Helper()
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: 10, ReadAhead: ahead})
			if err != nil {
				t.Fatal(err)
			}
			return page, logPositions(drain(t, page.Events))
		}
		before := teststore.Statements(t, m, "read_events")
		if _, got := read(5, true); !slices.Equal(got, span(6, 15)) {
			t.Fatalf("log after 5: positions %v; expected 6 to 15", got)
		}
		// 16 to 25, full, with more after it: kept.
		ahead := waitForReads(t, s, m, before+1)
		page, got := read(15, false)
		if !slices.Equal(got, span(16, 25)) || !page.More || page.Last != 25 {
			t.Fatalf("log after 15: positions %v, more %v, last %d; expected 16 to 25, more, last 25", got, page.More, page.Last)
		}
		if n := teststore.Statements(t, m, "read_events"); n != ahead {
			t.Errorf("the full page read ahead was read again: read_events %d after it, %d before", n, ahead)
		}
		// Read again (the page is handed out once), and 26 to 30 ahead of
		// it, which reached the head: not kept. (The read ahead has ended
		// before the appends; were it later, it would read them too, and
		// the check would pass whatever it kept.)
		read(15, true)
		waitForReads(t, s, m, ahead+1)
		appendN(t, s, stream, 3)
		if page, got := read(25, false); !slices.Equal(got, span(26, 33)) || page.Last != 33 {
			t.Fatalf("log after 25, after 3 more appends: positions %v, last %d; expected 26 to 33", got, page.Last)
		}
	})
}

// TestAFirstOnlyLogReadReadsThePagesFirstEventAlone: HEAD /events reads a
// page's first event only, but the store read more of it: a page of small
// events whole, one row past it too, else its first chunk; a damaged event
// past the first (met by the GET) failed the HEAD, and its data was read to
// be thrown away. A FirstOnly read of the log reads the page's positions
// and its first event alone, filtered or not, with the page's Last and
// More, and leaves a page read ahead for the GET that follows the next
// link. On both stores.
func TestAFirstOnlyLogReadReadsThePagesFirstEventAlone(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		s := teststore.OpenCounted(t, k, m)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		appendN(t, s, uuid.New(), 30)
		// The second event of the page after 1 cannot be read: its id is
		// not 16 bytes (MySQL's column made one that may be shorter).
		if k.Name == "mysql" {
			k.Exec(t, s, "ALTER TABLE events MODIFY event_id VARBINARY(16) NOT NULL")
		}
		k.Exec(t, s, "UPDATE events SET event_id = ? WHERE position = 3", []byte("short"))
		for _, opts := range []eventstore.ReadAllOptions{
			{After: 1, Limit: 10},
			{After: 1, Limit: 10, EventTypes: []string{"Counted"}},
			{After: 1, Limit: 1000},
		} {
			last, more := min(opts.After+int64(opts.Limit), 30), opts.After+int64(opts.Limit) < 30 // the page's
			full, err := s.ReadAll(ctx, opts)
			failed := err != nil
			if err == nil {
				for _, err := range full.Events {
					failed = failed || err != nil
				}
			}
			if !failed {
				t.Fatalf("ReadAll(%+v) of a page whose second event is damaged: no error; expected the damage met", opts)
			}
			opts.FirstOnly = true
			page, err := s.ReadAll(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for e, err := range page.Events {
				if err != nil {
					t.Fatalf("ReadAll(%+v): %v; expected the page's first event alone read, not the damaged second", opts, err)
				}
				got = append(got, e.Position)
			}
			if !slices.Equal(got, []int64{2}) || page.Last != last || page.More != more {
				t.Errorf("ReadAll(%+v): positions %v, last %d, more %v; expected [2], last %d, more %v", opts, got, page.Last, page.More, last, more)
			}
		}
		// A FirstOnly read leaves the page read ahead where it is.
		before := teststore.Statements(t, m, "read_events")
		if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 5, Limit: 10, ReadAhead: true}); err != nil {
			t.Fatal(err)
		}
		waitForReads(t, s, m, before+1)
		head, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 15, Limit: 10, FirstOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := logPositions(drain(t, head.Events)); !slices.Equal(got, []int64{16}) || head.Last != 25 || !head.More {
			t.Fatalf("log after 15, its first event only: positions %v, last %d, more %v; expected [16], last 25, more", got, head.Last, head.More)
		}
		expectReadAheadAfterFirstOnly(t, m, "log after 15: positions", span(16, 25), func() []int64 {
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: 15, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			return logPositions(drain(t, page.Events))
		})
	})
}
