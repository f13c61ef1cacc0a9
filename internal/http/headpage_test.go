package http_test

import (
	"context"
	"iter"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// eventsCounted is a store whose stream pages count the events read from
// them.
type eventsCounted struct {
	eventstore.Store
	read atomic.Int64
}

func (s *eventsCounted) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	page, err := s.Store.ReadStream(ctx, id, opts)
	if err == nil {
		page.Events = countedEvents(page.Events, &s.read)
	}
	return page, err
}

// countedEvents yields events as they are, adding one to read for each.
func countedEvents(events iter.Seq2[eventstore.Event, error], read *atomic.Int64) iter.Seq2[eventstore.Event, error] {
	return func(yield func(eventstore.Event, error) bool) {
		for e, err := range events {
			read.Add(1)
			if !yield(e, err) {
				return
			}
		}
	}
}

// appendFiveEvents appends events of type A, data 0 to 4, to the stream id.
func appendFiveEvents(t *testing.T, s *testServer, id string) {
	t.Helper()
	body := `{"stream_type":"order","events":[`
	for i := range 5 {
		if i > 0 {
			body += ","
		}
		body += `{"type":"A","data":` + strconv.Itoa(i) + `}`
	}
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", body+"]}"), 201)
}

// expectHeadHeadersOfGet fails t unless head has get's headers named, and
// no Content-Length, which only the body gives: none, rather than a wrong
// one.
func expectHeadHeadersOfGet(t *testing.T, path string, get, head response, names ...string) {
	t.Helper()
	for _, name := range names {
		if g, h := get.header.Values(name), head.header.Values(name); len(g) != len(h) || len(g) > 0 && g[0] != h[0] {
			t.Errorf("HEAD %s: %s %q; want the GET's, %q", path, name, h, g)
		}
	}
	if h := head.header.Get("Content-Length"); h != "" {
		t.Errorf("HEAD %s: Content-Length %s; want none (the GET's is %q)", path, h, get.header.Get("Content-Length"))
	}
}

// TestAHeadOfAStreamPageReadsNoEvents: HEAD of a page of a stream's events
// read the whole page from the database (up to its byte cap, in chunks) to
// throw it away: as costly as the largest GET. Its headers, ETag and Link,
// come from the stream's row alone; it reads the page's first event only
// (so that one that cannot be read fails it as it fails the GET), and the
// store reads that one alone (FirstOnly); they are the GET's, forward and
// backward, with and without a next page. It has no Content-Length, which
// only the body gives.
func TestAHeadOfAStreamPageReadsItsFirstEventOnly(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &eventsCounted{Store: k.Open(t)}
		s := newServer(t, newContract(t), store)
		id := uuid.New()
		appendFiveEvents(t, s, id.String())
		for _, c := range []struct {
			opts  eventstore.ReadStreamOptions
			first int64
		}{
			{eventstore.ReadStreamOptions{Limit: 2}, 1},
			{eventstore.ReadStreamOptions{From: 3, Limit: 2}, 3},
			{eventstore.ReadStreamOptions{Direction: eventstore.Backward, Limit: 2}, 5},
			{eventstore.ReadStreamOptions{From: 6}, 0},
		} {
			c.opts.FirstOnly = true
			page, err := store.Store.ReadStream(context.Background(), id, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			var versions []int64
			for e, err := range page.Events {
				if err != nil {
					t.Fatal(err)
				}
				versions = append(versions, e.Version)
			}
			if want := []int64{c.first}; c.first == 0 && len(versions) != 0 || c.first != 0 && !slices.Equal(versions, want) {
				t.Errorf("ReadStream(%+v) read versions %v; want the page's first only, %d", c.opts, versions, c.first)
			}
		}
		for _, query := range []string{"", "?limit=2", "?from=3&limit=2", "?direction=backward&limit=2"} {
			path := "/streams/" + id.String() + "/events" + query
			get := s.do("GET", path, "")
			expectStatus(t, "GET "+path, get, 200)
			store.read.Store(0)
			head := s.do("HEAD", path, "")
			expectStatus(t, "HEAD "+path, head, 200)
			if n := store.read.Load(); n != 1 {
				t.Errorf("HEAD %s read %d events; want its first only", path, n)
			}
			expectHeadHeadersOfGet(t, path, get, head, "ETag", "Link", "Content-Type", "Vary")
		}
	})
}

// logEventsCounted is a store whose pages of the log count the events
// read from them, and keep the options each was asked with.
type logEventsCounted struct {
	eventstore.Store
	read      atomic.Int64
	ahead     atomic.Bool // a page was asked for with ReadAhead
	firstOnly atomic.Bool // the last page was asked for with FirstOnly
}

func (s *logEventsCounted) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.ReadAhead {
		s.ahead.Store(true)
	}
	s.firstOnly.Store(opts.FirstOnly)
	page, err := s.Store.ReadAll(ctx, opts)
	if err == nil {
		page.Events = countedEvents(page.Events, &s.read)
	}
	return page, err
}

// TestAHeadOfALogPageReadsItsFirstEventOnly: HEAD /events read the whole
// page to throw it away (and, past the first page, had the store read the
// next one ahead for a GET that a HEAD does not announce), as a stream
// page's HEAD did. Its headers (Link) come from the page's positions; it
// reads the first event only, so that one that cannot be read fails it as
// it fails the GET, asks the store for that one alone (FirstOnly: the
// store read the page whole, or its first chunk), and asks for no read
// ahead. Its headers are the GET's.
func TestAHeadOfALogPageReadsItsFirstEventOnly(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &logEventsCounted{Store: k.Open(t)}
		s := newServer(t, newContract(t), store)
		appendFiveEvents(t, s, uuid.NewString())
		for _, query := range []string{"", "?limit=2", "?after=2&limit=2", "?type=A&after=1&limit=2", "?after=5"} {
			path := "/events" + query
			get := s.do("GET", path, "")
			expectStatus(t, "GET "+path, get, 200)
			if store.firstOnly.Load() {
				t.Errorf("GET %s asked the store for the page's first event only; want the whole page", path)
			}
			store.read.Store(0)
			store.ahead.Store(false)
			head := s.do("HEAD", path, "")
			expectStatus(t, "HEAD "+path, head, 200)
			if !store.firstOnly.Load() {
				t.Errorf("HEAD %s asked the store for the whole page; want its first event only (FirstOnly)", path)
			}
			want := int64(1)
			if query == "?after=5" {
				want = 0
			}
			if n := store.read.Load(); n != want {
				t.Errorf("HEAD %s read %d events; want %d (its first only)", path, n, want)
			}
			if store.ahead.Load() {
				t.Errorf("HEAD %s asked the store to read the next page ahead; want no read ahead for a HEAD", path)
			}
			expectHeadHeadersOfGet(t, path, get, head, "Link", "Content-Type", "Vary")
		}
	})
}
