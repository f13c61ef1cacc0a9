package http_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// readOptions is a store that records the options of the reads it is asked
// for, and reads them from the store it wraps.
type readOptions struct {
	eventstore.Store
	mu     sync.Mutex
	stream []eventstore.ReadStreamOptions
	log    []eventstore.ReadAllOptions
}

func (r *readOptions) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	r.mu.Lock()
	r.stream = append(r.stream, opts)
	r.mu.Unlock()
	return r.Store.ReadStream(ctx, id, opts)
}

func (r *readOptions) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	r.mu.Lock()
	r.log = append(r.log, opts)
	r.mu.Unlock()
	return r.Store.ReadAll(ctx, opts)
}

// TestOnlyAReadPastTheFirstPageAsksTheStoreToReadAhead: the store reads the
// next page ahead for a read that followed a next link (forward from past
// the first version, the log after a position): a client reading only the
// first page, or backward, costs the database no read it will not use.
func TestOnlyAReadPastTheFirstPageAsksTheStoreToReadAhead(t *testing.T) {
	t.Parallel()
	store := &readOptions{Store: teststore.OpenSQLite(t, t.TempDir())}
	s := newServer(t, nil, store)
	stream := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+stream+"/events",
		`{"stream_type":"counter","events":[{"type":"A","data":{}},{"type":"A","data":{}},{"type":"A","data":{}}]}`), 201)
	for _, c := range []struct {
		path  string
		ahead bool
	}{
		{"/streams/" + stream + "/events", false},
		{"/streams/" + stream + "/events?from=1&limit=1", false},
		{"/streams/" + stream + "/events?from=2&limit=1", true},
		{"/streams/" + stream + "/events?from=3&limit=1&direction=backward", false},
		{"/events", false},
		{"/events?after=0&limit=1", false},
		{"/events?after=1&limit=1", true},
		{"/events?after=1&limit=1&type=A", true},
	} {
		store.mu.Lock()
		store.stream, store.log = nil, nil
		store.mu.Unlock()
		expectStatus(t, c.path, s.do("GET", c.path, ""), 200)
		store.mu.Lock()
		var got []bool
		for _, o := range store.stream {
			got = append(got, o.ReadAhead)
		}
		for _, o := range store.log {
			got = append(got, o.ReadAhead)
		}
		store.mu.Unlock()
		if len(got) != 1 || got[0] != c.ahead {
			t.Errorf("GET %s asked the store to read ahead: %v; expected one read, read ahead %v", c.path, got, c.ahead)
		}
	}
}
