package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// refusingAppends is a real store whose appends are refused with the error
// set, if any: a full disk, or a MySQL server restarted with unsafe
// durability settings, which refuse every append while reads and the
// store's Ping go on.
type refusingAppends struct {
	eventstore.Store
	err atomic.Pointer[error]
}

func (s *refusingAppends) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := s.err.Load(); err != nil && *err != nil {
		return eventstore.AppendResult{}, *err
	}
	return s.Store.Append(ctx, req)
}

// TestReadyzSaysWhenAppendsAreRefused: through a full disk on the embedded
// store, or a MySQL server restarted with settings that can lose commits,
// every append was refused while /readyz answered {"status":"ok"}, and
// nothing an operator's probe reads told it (an operator tester). /readyz
// still answers 200 (reads are served, and every instance on the database
// is refused alike: a 503 would take the reads out of the load balancer
// too), but its body says appends are refused and why, from the last
// append this instance answered, until one is written again (or a minute
// passes: TestReadyzForgetsARefusalNoAppendHasRenewedForAMinute). So too
// for the embedded store's storage failed (an I/O error on a write). On
// both stores.
func TestReadyzSaysWhenAppendsAreRefused(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &refusingAppends{Store: k.Open(t)}
		s := newServer(t, nil, store)
		body := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
		readyz := func(what string) map[string]any {
			t.Helper()
			r := s.do(http.MethodGet, "/readyz", "")
			var got map[string]any
			if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got["status"] != "ok" {
				t.Fatalf("/readyz %s: %d %s; want 200 with status ok", what, r.status, r.body)
			}
			return got
		}
		expectStatus(t, "an append", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusCreated)
		if got := readyz("with appends written"); len(got) != 1 {
			t.Errorf("/readyz with appends written: %v; want only the status", got)
		}
		for _, tc := range []struct {
			cause, says string
			err         error
		}{
			{"full", "full", fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)},
			// The embedded store's file system full, or a quota on it used
			// up (the same error): the reason names the quota too.
			{"full", "quota", fmt.Errorf("append to x: %w: %w (%w): disk I/O error (778)", eventstore.ErrUnavailable, eventstore.ErrFull, eventstore.ErrDiskFull)},
			{"not_durable", "durab", fmt.Errorf("append to x: %w: %w: innodb_flush_log_at_trx_commit is 2", eventstore.ErrUnavailable, eventstore.ErrNotDurable)},
			// The embedded store's storage failed (an I/O error on its
			// files, no writable temporary directory): cause unavailable,
			// which /readyz said nothing of while reads went on.
			{"storage_failed", "storage", fmt.Errorf("append to x: %w: %w: the file system of the database's files failed a write: disk I/O error (778)",
				eventstore.ErrUnavailable, eventstore.ErrStorageFailed)},
		} {
			store.err.Store(&tc.err)
			expectStatus(t, "an append refused ("+tc.cause+")", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusServiceUnavailable)
			got := readyz("with appends refused (" + tc.cause + ")")
			reason, _ := got["reason"].(string)
			if got["appends"] != "refused" || got["cause"] != tc.cause || !strings.Contains(strings.ToLower(reason), tc.says) || strings.Contains(reason, "innodb_flush") || strings.Contains(reason, "no space") {
				t.Errorf("/readyz with every append refused (%s): %v; want appends refused, cause %q, and a reason of its own saying %q (not the error's text)", tc.cause, got, tc.cause, tc.says)
			}
			// The storage_failed reason told the operator to restart the
			// server, which recovers without one once an append is written
			// (below), as the append's own detail says (a retest).
			if strings.Contains(strings.ToLower(reason), "restart") {
				t.Errorf("/readyz with every append refused (%s): reason %q; want no restart asked for: an append written clears it", tc.cause, reason)
			}
			expectStatus(t, "a read with appends refused", s.do(http.MethodGet, "/events", ""), http.StatusOK)
			var none error
			store.err.Store(&none)
			expectStatus(t, "an append once the database takes them again", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body), http.StatusCreated)
			if got := readyz("once an append is written again (" + tc.cause + ")"); len(got) != 1 {
				t.Errorf("/readyz once an append is written again: %v; want only the status", got)
			}
		}
	})
}

// readyzBody is /readyz's body, failing t unless it is a 200 with status ok.
func readyzBody(t *testing.T, s *testServer, what string) map[string]any {
	t.Helper()
	r := s.do(http.MethodGet, "/readyz", "")
	var got map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got["status"] != "ok" {
		t.Fatalf("/readyz %s: %d %s; want 200 with status ok", what, r.status, r.body)
	}
	return got
}

// errFull is an append's error on a full database, as the stores make it.
var errFull = fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)

const oneEvent = `{"stream_type":"a","events":[{"type":"X","data":1}]}`

// TestReadyzForgetsARefusalNoAppendHasRenewedForAMinute: /readyz said
// appends were refused from the last append this instance answered until
// one was written again, so an instance that got no more appends said
// "refused" for ever after the disk was freed or the durability settings
// put back, and an operator's alert on it never cleared (a review). It
// says so for a minute after the last refused append, each one renewing
// it (since stays the first of the row), and then says nothing of appends:
// no append tells it any more. On both stores.
func TestReadyzForgetsARefusalNoAppendHasRenewedForAMinute(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &refusingAppends{Store: k.Open(t)}
		srv := esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, MaxBodyBytes: 64 << 10, MaxBatch: 10})
		var ahead atomic.Int64 // how far the server's clock is moved on
		esthttp.SetAppendsRefusedClock(srv, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		s := &testServer{t: t, url: hs.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}

		err := errFull
		store.err.Store(&err)
		expectStatus(t, "an append to a full database", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusServiceUnavailable)
		first := readyzBody(t, s, "after a refused append")
		if first["appends"] != "refused" || first["cause"] != "full" {
			t.Fatalf("/readyz after a refused append: %v; want appends refused, cause full", first)
		}
		ahead.Add(int64(50 * time.Second))
		expectStatus(t, "an append to a full database 50 s later", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusServiceUnavailable)
		ahead.Add(int64(50 * time.Second))
		if got := readyzBody(t, s, "100 s after the first refused append, 50 s after the last"); got["appends"] != "refused" || got["since"] != first["since"] {
			t.Errorf("/readyz 100 s after the first refused append, 50 s after the last: %v; want appends refused since %v (the first of the row)", got, first["since"])
		}
		ahead.Add(int64(11 * time.Second))
		if got := readyzBody(t, s, "61 s after the last refused append"); len(got) != 1 {
			t.Errorf("/readyz 61 s after the last refused append, none since: %v; want only the status", got)
		}
		expectStatus(t, "an append to a database still full", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusServiceUnavailable)
		if got := readyzBody(t, s, "after a refused append again"); got["appends"] != "refused" || got["since"] == first["since"] {
			t.Errorf("/readyz after a refused append again: %v; want appends refused, since a new time (not %v)", got, first["since"])
		}
	})
}

// holdingRefusal is a real store whose appends to the stream held wait
// until release is closed, then are refused as on a full database.
type holdingRefusal struct {
	eventstore.Store
	held    uuid.UUID
	entered chan struct{} // closed when an append to held has begun
	release chan struct{}
}

func (s *holdingRefusal) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if req.StreamID != s.held {
		return s.Store.Append(ctx, req)
	}
	close(s.entered)
	<-s.release
	return eventstore.AppendResult{}, errFull
}

// TestReadyzIsNotToldRefusedByAnAppendThatBeganBeforeOneWritten: the
// outcome /readyz kept was the last answered, so a refused append whose
// answer came late (it waited on the database) after a later one was
// written made /readyz say appends were refused while they were written
// (a review). The outcome of the append that began last stands. On both
// stores.
func TestReadyzIsNotToldRefusedByAnAppendThatBeganBeforeOneWritten(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &holdingRefusal{Store: k.Open(t), held: uuid.New(), entered: make(chan struct{}), release: make(chan struct{})}
		s := newServer(t, nil, store)
		late := sendHeld(t, s, store.held, store.entered)
		expectStatus(t, "an append begun after the held one", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusCreated)
		close(store.release)
		expectStatus(t, "the held append, refused once the later one was written", <-late, http.StatusServiceUnavailable)
		if got := readyzBody(t, s, "after a refusal that began before an append written"); len(got) != 1 {
			t.Errorf("/readyz after an append written, and the refusal of one begun before it answered late: %v; want only the status", got)
		}
	})
}

// holdingWrite is a real store whose appends to the stream held wait until
// release is closed, then are written, and whose other appends are
// refused as on a full database.
type holdingWrite struct {
	eventstore.Store
	held    uuid.UUID
	entered chan struct{} // closed when an append to held has begun
	release chan struct{}
}

func (s *holdingWrite) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if req.StreamID != s.held {
		return eventstore.AppendResult{}, errFull
	}
	close(s.entered)
	<-s.release
	return s.Store.Append(ctx, req)
}

// TestReadyzIsClearedByAWriteAnsweredAfterARefusal: /readyz kept the
// outcome of the append that began last, so an append that began first,
// waited (behind a group, a lock) and was written after a later one was
// refused was dropped: /readyz said appends were refused though the last
// answered was written, until another was or a minute passed (a hostile
// review). An append written clears every refusal answered before its own
// answer, whenever it began. On both stores.
func TestReadyzIsClearedByAWriteAnsweredAfterARefusal(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &holdingWrite{Store: k.Open(t), held: uuid.New(), entered: make(chan struct{}), release: make(chan struct{})}
		s := newServer(t, nil, store)
		late := sendHeld(t, s, store.held, store.entered)
		expectStatus(t, "an append begun after the held one, refused", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusServiceUnavailable)
		if got := readyzBody(t, s, "after a refused append"); got["appends"] != "refused" {
			t.Fatalf("/readyz after a refused append: %v; want appends refused", got)
		}
		close(store.release)
		expectStatus(t, "the held append, written after the later one was refused", <-late, http.StatusCreated)
		if got := readyzBody(t, s, "after an append written, answered after a refusal"); len(got) != 1 {
			t.Errorf("/readyz after an append written, answered after the refusal of one begun later: %v; want only the status", got)
		}
	})
}

// sendHeld sends an append to the stream held in the background, and
// returns once it has reached the store (entered is closed); its answer
// comes on the channel.
func sendHeld(t *testing.T, s *testServer, held uuid.UUID, entered <-chan struct{}) <-chan response {
	t.Helper()
	late := make(chan response, 1)
	go func() { late <- s.do(http.MethodPost, "/streams/"+held.String()+"/events", oneEvent) }()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the held append never reached the store")
	}
	return late
}

// answeredLate is a real store whose append to held is written, and then
// kept from its handler until release is closed (its goroutine not run
// after the writer answered it, on a loaded machine); an append to refuse
// is refused as on a full disk, decided by the writer after that write:
// a write of another stream first, whose order it takes.
type answeredLate struct {
	eventstore.Store
	held, refuse uuid.UUID
	written      chan struct{} // closed once the append to held is written
	release      chan struct{}
}

func (s *answeredLate) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	switch req.StreamID {
	case s.held:
		res, err := s.Store.Append(ctx, req)
		close(s.written)
		<-s.release
		return res, err
	case s.refuse:
		req.StreamID = uuid.New()
		if _, err := s.Store.Append(ctx, req); err != nil {
			return eventstore.AppendResult{}, err
		}
		return eventstore.AppendResult{}, errFull
	}
	return s.Store.Append(ctx, req)
}

// TestReadyzKeepsARefusalDecidedAfterAWriteAnsweredLate: /readyz ordered
// outcomes as their handlers noted them, so a write committed before a
// refusal, its handler run after the refusal's, cleared it: /readyz said
// appends were written while the disk was full, until another was refused
// (a hostile review). The writer now gives each outcome the order it
// decided it in, and a write clears only a refusal decided before it. On
// both stores.
func TestReadyzKeepsARefusalDecidedAfterAWriteAnsweredLate(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &answeredLate{Store: k.Open(t), held: uuid.New(), refuse: uuid.New(), written: make(chan struct{}), release: make(chan struct{})}
		s := newServer(t, nil, store)
		late := sendHeld(t, s, store.held, store.written)
		expectStatus(t, "an append refused after the held one was written", s.do(http.MethodPost, "/streams/"+store.refuse.String()+"/events", oneEvent), http.StatusServiceUnavailable)
		close(store.release)
		expectStatus(t, "the held append, written before the refusal, answered after it", <-late, http.StatusCreated)
		if got := readyzBody(t, s, "after a write answered late"); got["appends"] != "refused" {
			t.Errorf("/readyz after a refusal decided after a write whose answer came later: %v; want appends refused", got)
		}
	})
}
