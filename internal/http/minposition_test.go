package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAResumePointTheReplicaLacksButThePrimaryHasIsWaitedFor: behind a read
// replica, a subscription's starting point (Last-Event-ID, after) past what
// the replica has but not past the primary's head is an event an append
// answered a moment ago: an EventSource reconnecting to an instance whose
// replica lags. It was answered 409 starting-point-ahead at once, and an
// EventSource stops for ever on any status but 200. Now it waits, bounded,
// for the replica to reach it and starts (200); when the replica does not
// in time, 503 with Retry-After. A point past the primary's head too is
// still 409 at once.
func TestAResumePointTheReplicaLacksButThePrimaryHasIsWaitedFor(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, tc := range []struct {
			lag    int64 // how far the primary is ahead of the replica (the store)
			status int
		}{{5, http.StatusServiceUnavailable}, {0, http.StatusConflict}} {
			replica := &primaryAhead{lag: tc.lag}
			store, srv := serveBehind(t, k, replica, 500*time.Millisecond)
			id := uuid.NewString()
			appendTo := func(n int) {
				t.Helper()
				body := `{"stream_type":"order","events":[` + strings.TrimSuffix(strings.Repeat(`{"type":"A","data":1},`, n), ",") + `]}`
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/streams/"+id+"/events", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("append %d events: %d, want 201", n, resp.StatusCode)
				}
			}
			appendTo(1)
			head, err := store.Head(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			subscribe := func(path, last string) (*http.Response, string, time.Duration) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				req.Header.Set("Accept", "text/event-stream")
				req.Header.Set("Last-Event-ID", last)
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				var body []byte
				if resp.StatusCode != http.StatusOK {
					body, _ = io.ReadAll(resp.Body)
				} else {
					// Up to its caught-up frame, which names where it starts.
					var b strings.Builder
					go func() { time.Sleep(5 * time.Second); resp.Body.Close() }()
					buf := make([]byte, 4096)
					for !strings.Contains(b.String(), "event: caught-up\n") || !strings.HasSuffix(b.String(), "\n\n") {
						n, err := resp.Body.Read(buf)
						b.Write(buf[:n])
						if err != nil {
							break
						}
					}
					body = []byte(b.String())
				}
				resp.Body.Close()
				return resp, string(body), took
			}
			// The replica has the stream at version 1 and the log at head;
			// the client resumes from version 3, position head+2.
			for _, c := range []struct{ path, last string }{{"/events", fmt.Sprint(head + 2)}, {"/streams/" + id + "/events", "3"}} {
				resp, body, took := subscribe(c.path, c.last)
				if resp.StatusCode != tc.status {
					t.Errorf("GET %s with Last-Event-ID %s, the replica at %d and %d positions behind its primary: %d %s; want %d",
						c.path, c.last, head, tc.lag, resp.StatusCode, body, tc.status)
				}
				switch tc.status {
				case http.StatusServiceUnavailable:
					if resp.Header.Get("Retry-After") == "" || took < 400*time.Millisecond {
						t.Errorf("GET %s with Last-Event-ID %s behind a lagging replica: answered after %v with Retry-After %q; want a wait for the replica, then Retry-After",
							c.path, c.last, took, resp.Header.Get("Retry-After"))
					}
				case http.StatusConflict:
					if !strings.Contains(body, "starting-point-ahead") || took > 400*time.Millisecond {
						t.Errorf("GET %s with Last-Event-ID %s past the primary's head: after %v %s; want starting-point-ahead at once", c.path, c.last, took, body)
					}
				}
			}
			if tc.lag == 0 {
				continue
			}
			// The replica catches up while the subscription waits: it starts.
			go func() {
				time.Sleep(100 * time.Millisecond)
				appendTo(2)
			}()
			for _, c := range []struct{ path, last string }{{"/events", fmt.Sprint(head + 2)}, {"/streams/" + id + "/events", "3"}} {
				resp, body, took := subscribe(c.path, c.last)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s with Last-Event-ID %s, the replica reaching it while it waits: %d after %v %s; want 200", c.path, c.last, resp.StatusCode, took, body)
				} else if !strings.Contains(body, "event: caught-up\ndata: "+c.last+"\n") {
					t.Errorf("GET %s with Last-Event-ID %s, once the replica has it: %q; want it caught up at %s", c.path, c.last, body, c.last)
				}
			}
		}
	})
}

// primaryAhead is a read replica, the store, whose primary is lag positions
// ahead of it; with failed, its applier has stopped on an error.
type primaryAhead struct {
	store   eventstore.Store
	lag     int64
	failed  atomic.Bool
	ioErrno int          // with failed: the receiver (IO thread) stopped on this error
	calls   atomic.Int64 // ReplicaLag's
}

// PrimaryStreamVersion is the replica's version of the stream, lag
// versions further on the primary where the replica has it.
func (r *primaryAhead) PrimaryStreamVersion(ctx context.Context, id uuid.UUID) (int64, error) {
	st, err := r.store.Stream(ctx, id)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Version + r.lag, nil
}

func (r *primaryAhead) HasPosition(context.Context, int64) error { return nil }

func (r *primaryAhead) ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error) {
	r.calls.Add(1)
	head, err := r.store.Head(ctx)
	if err != nil {
		return eventstore.ReplicaLag{}, err
	}
	if r.failed.Load() {
		return eventstore.ReplicaLag{Positions: r.lag, PrimaryHead: head + r.lag, Seconds: -1, ApplierFailed: true, IOErrno: r.ioErrno}, nil
	}
	return eventstore.ReplicaLag{Positions: r.lag, PrimaryHead: head + r.lag, Seconds: 0, Replicating: true}, nil
}

// serveBehind serves a store of kind k behind replica, which reads it, with
// requests bounded by timeout.
func serveBehind(t *testing.T, k teststore.Kind, replica *primaryAhead, timeout time.Duration) (eventstore.Store, *httptest.Server) {
	t.Helper()
	store, _, srv := liveServerOf(t, k, esthttp.Options{Replica: replica, RequestTimeout: timeout}, nil)
	replica.store = store
	return store, srv
}

// appendOneEvent appends one event to a new stream, and returns the
// stream's id and the log's head after it.
func appendOneEvent(t *testing.T, store eventstore.Store) (uuid.UUID, int64) {
	t.Helper()
	id := uuid.New()
	if _, err := store.Append(t.Context(), eventstore.AppendRequest{StreamID: id, StreamType: "order", Expected: eventstore.Any,
		Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`1`)}}}); err != nil {
		t.Fatal(err)
	}
	head, err := store.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return id, head
}

// getTimed sends GET url with the header given (and Accept, where not
// empty), and returns the answer, up to 4 KiB of its body, and how long it
// took, the body read.
func getTimed(t *testing.T, url, accept, header, value string) (*http.Response, []byte, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set(header, value)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp, body, time.Since(start)
}

// TestAResumeBehindAReplicaWhoseApplierFailedIsAnsweredAtOnce: a read
// replica whose applier has stopped on an error (a duplicate key, a missing
// table) applies nothing more until someone repairs it, yet a subscription
// resuming at a point it lacks and the primary has, and a read with
// Tributary-Min-Position of it, waited the whole wait (5 s) before their
// 503, every time. They are 503 with Retry-After at once, saying the
// replica's applier stopped on an error. A position past the primary's
// head is still 409. On both stores, the log and a stream.
func TestAResumeBehindAReplicaWhoseApplierFailedIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		replica := &primaryAhead{lag: 5}
		replica.failed.Store(true)
		store, srv := serveBehind(t, k, replica, 10*time.Second)
		id, head := appendOneEvent(t, store)
		for _, c := range []struct {
			path, header, value string
			status              int
		}{
			{"/events", "Last-Event-ID", fmt.Sprint(head + 2), http.StatusServiceUnavailable},
			{"/streams/" + id.String() + "/events", "Last-Event-ID", "3", http.StatusServiceUnavailable},
			{"/events", esthttp.MinPositionHeader, fmt.Sprint(head + 2), http.StatusServiceUnavailable},
			{"/events", "Last-Event-ID", fmt.Sprint(head + 100), http.StatusConflict},
			// A stream's version past the primary's too: as without a replica.
			{"/streams/" + id.String() + "/events", "Last-Event-ID", "100", http.StatusConflict},
		} {
			for _, accept := range []string{"text/event-stream", ""} {
				if accept == "" && c.header != esthttp.MinPositionHeader {
					continue
				}
				resp, body, took := getTimed(t, srv.URL+c.path, accept, c.header, c.value)
				what := fmt.Sprintf("GET %s (Accept %q) with %s %s, the log at %d, behind a replica 5 behind whose applier stopped on an error", c.path, accept, c.header, c.value, head)
				switch {
				case resp.StatusCode != c.status || took > 2*time.Second:
					t.Errorf("%s: %d after %v %s; want %d at once", what, resp.StatusCode, took.Round(time.Millisecond), body, c.status)
				case c.status == http.StatusServiceUnavailable && (resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "applier has stopped on an error")):
					t.Errorf("%s: Retry-After %q, %s; want Retry-After and a detail saying the replica's applier has stopped on an error", what, resp.Header.Get("Retry-After"), body)
				case c.status == http.StatusConflict && !strings.Contains(string(body), "starting-point-ahead"):
					t.Errorf("%s: %s; want starting-point-ahead", what, body)
				}
			}
		}
	})
}

// TestAWaitBehindAReplicaWhoseReceiverStoppedSaysSoWithItsErrorNumber: a
// read replica whose receiver (IO thread) stopped on an error (the primary
// purged the binary log it had yet to read) receives nothing more until
// someone repairs it, as one whose applier stopped on an error: a read or
// a resume waiting for it is a 503 with Retry-After at once, its detail
// saying the receiver stopped and on which error number (the number only:
// the server's message names the primary's user and host). On both stores.
func TestAWaitBehindAReplicaWhoseReceiverStoppedSaysSoWithItsErrorNumber(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		replica := &primaryAhead{lag: 5, ioErrno: 1236}
		replica.failed.Store(true)
		store, srv := serveBehind(t, k, replica, 10*time.Second)
		id, head := appendOneEvent(t, store)
		for _, c := range []struct{ path, accept, header, value string }{
			{"/events", "", esthttp.MinPositionHeader, fmt.Sprint(head + 2)},
			{"/events", "text/event-stream", "Last-Event-ID", fmt.Sprint(head + 2)},
			{"/streams/" + id.String() + "/events", "text/event-stream", "Last-Event-ID", "3"},
		} {
			if resp, body, took := getTimed(t, srv.URL+c.path, c.accept, c.header, c.value); resp.StatusCode != http.StatusServiceUnavailable || took > 2*time.Second || resp.Header.Get("Retry-After") == "" ||
				!strings.Contains(string(body), "IO thread") || !strings.Contains(string(body), "error 1236") {
				t.Errorf("GET %s (Accept %q) with %s %s behind a replica whose receiver stopped on error 1236: %d after %v (Retry-After %q) %s; "+
					"want 503 with Retry-After at once, saying its IO thread stopped on error 1236",
					c.path, c.accept, c.header, c.value, resp.StatusCode, took.Round(time.Millisecond), resp.Header.Get("Retry-After"), body)
			}
		}
	})
}

// TestAWaitForAReplicaWhoseApplierFailsMeanwhileEndsAtOnce: a read with
// Tributary-Min-Position, or a resume, waiting for a lagging read replica
// looked at the replica's status once, as it began: an applier that
// stopped on an error while it waited was not noticed, and the request
// waited out its whole bound (5 s) for what could not come, then said the
// replica may be lagging. It notices within a poll now and answers the
// applier-failed 503 at once, as a request that arrives after the failure
// does. On both stores, the log and a stream, reads and subscriptions.
func TestAWaitForAReplicaWhoseApplierFailsMeanwhileEndsAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		replica := &primaryAhead{lag: 5}
		store, srv := serveBehind(t, k, replica, 10*time.Second)
		id, head := appendOneEvent(t, store)
		for _, c := range []struct{ path, accept, header, value string }{
			{"/events", "", esthttp.MinPositionHeader, fmt.Sprint(head + 2)},
			{"/streams/" + id.String(), "", esthttp.MinPositionHeader, fmt.Sprint(head + 2)},
			{"/events", "text/event-stream", "Last-Event-ID", fmt.Sprint(head + 2)},
			{"/streams/" + id.String() + "/events", "text/event-stream", "Last-Event-ID", "3"},
		} {
			replica.failed.Store(false)
			const failsAfter = 300 * time.Millisecond
			fail := time.AfterFunc(failsAfter, func() { replica.failed.Store(true) })
			resp, body, took := getTimed(t, srv.URL+c.path, c.accept, c.header, c.value)
			fail.Stop()
			if resp.StatusCode != http.StatusServiceUnavailable || took < failsAfter || took > failsAfter+time.Second ||
				resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "applier has stopped on an error") {
				t.Errorf("GET %s (Accept %q) with %s %s, waiting for a replica 5 behind whose applier stops on an error %v in: %d after %v (Retry-After %q) %s; "+
					"want 503 with Retry-After saying the applier has stopped on an error, within a second of the failure",
					c.path, c.accept, c.header, c.value, failsAfter, resp.StatusCode, took.Round(time.Millisecond), resp.Header.Get("Retry-After"), body)
			}
		}
	})
}

// TestRequestsWaitingForAStalledReplicaShareItsStatus: a request waiting
// for a read replica reads the replica's status (the full lag: about five
// statements, three of them on the primary's small pool) at each poll that
// finds the replica stalled, to notice an applier that stops meanwhile;
// each on its own, a crowd of EventSources reconnecting to an instance
// whose replica is stopped would read it hundreds of times a second.
// Waiting requests share one read of it a poll (250 ms), and each still
// reads it once after it began. On both stores.
func TestRequestsWaitingForAStalledReplicaShareItsStatus(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		replica := &primaryAhead{lag: 5}
		const wait = time.Second
		store, srv := serveBehind(t, k, replica, wait)
		head, err := store.Head(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		const waiting = 20
		var wg sync.WaitGroup
		for range waiting {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
				req.Header.Set(esthttp.MinPositionHeader, fmt.Sprint(head+2))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("GET /events with %s past a stalled replica's head: %d, want 503 once the wait ends", esthttp.MinPositionHeader, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		// One a request as it begins, and one a poll (4 a second) shared:
		// each request on its own read it about twenty times in its second.
		if n := replica.calls.Load(); n > waiting+4*int64(wait/time.Second)+10 {
			t.Errorf("%d requests waiting %v for a stalled replica read its status %d times; want at most one each as they begin and about four a second between them", waiting, wait, n)
		}
	})
}

// TestAStreamResumePastThePrimarysVersionIsRefusedAtOnceBehindAReplica:
// behind a read replica, a subscription resuming a stream at a version past
// the primary's own (an id from another or a restored database, a client
// that counts wrong) was waited for until the replica had the primary's
// head, then refused 409; behind a replica that lags further than the wait,
// or whose applier stopped on an error, it was a 503, which a client retries
// for ever. Without a replica it is a 409 at once; the primary says the
// stream has no such version, so it is a 409 at once behind a replica too,
// naming the primary's version. A version the primary has is still waited
// for. On both stores.
func TestAStreamResumePastThePrimarysVersionIsRefusedAtOnceBehindAReplica(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, failed := range []bool{false, true} {
			replica := &primaryAhead{lag: 5}
			replica.failed.Store(failed)
			store, srv := serveBehind(t, k, replica, 10*time.Second)
			id, _ := appendOneEvent(t, store)
			// The replica has version 1, the primary 6.
			for _, c := range []struct{ path, last string }{
				{"/streams/" + id.String() + "/events", "100"},
				{"/streams/" + id.String() + "/events", "7"},
				{"/streams/" + uuid.NewString() + "/events", "1"}, // no such stream on the primary
			} {
				if resp, body, took := getTimed(t, srv.URL+c.path, "text/event-stream", "Last-Event-ID", c.last); resp.StatusCode != http.StatusConflict || took > 2*time.Second ||
					!strings.Contains(string(body), "starting-point-ahead") || !strings.Contains(string(body), "primary") {
					t.Errorf("GET %s with Last-Event-ID %s, past the primary's version, behind a replica 5 behind (applier failed: %v): %d after %v %s; "+
						"want 409 starting-point-ahead at once, naming the primary's version, as without a replica",
						c.path, c.last, failed, resp.StatusCode, took.Round(time.Millisecond), body)
				}
			}
		}
	})
}

// TestAResumePointPastANodesHeadIsWaitedForWhereReadsMayLag: on a Galera
// cluster (ReadsMayLag, no read replica) a node may lack another node's
// commit for a moment, and a Tributary-Min-Position read waits for it; a
// subscription resuming there (an EventSource with the Last-Event-ID
// another instance gave it) was refused 409 at once, which stops an
// EventSource for ever. It waits as the read does, then 503. From the
// session's final read.
func TestAResumePointPastANodesHeadIsWaitedForWhereReadsMayLag(t *testing.T) {
	t.Parallel()
	store, _, srv := liveServerOf(t, teststore.SQLite, esthttp.Options{ReadsMayLag: true, RequestTimeout: 500 * time.Millisecond}, nil)
	id, head := appendOneEvent(t, store)
	for _, c := range []struct{ path, last string }{{"/events", fmt.Sprint(head + 2)}, {"/streams/" + id.String() + "/events", "3"}} {
		if resp, body, _ := getTimed(t, srv.URL+c.path, "text/event-stream", "Last-Event-ID", c.last); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with Last-Event-ID %s past the node's head where reads may lag: %d %s; want 503 with Retry-After after a wait",
				c.path, c.last, resp.StatusCode, body)
		}
	}
}

// TestABadReadIsABadRequestWhateverItsMinPosition: Tributary-Min-Position
// was waited for by a middleware before the read's own checks, so a read
// with a bad parameter (after=zz, a stream id that is no UUID) and a
// position past the head was answered 409 starting-point-ahead (or, behind
// a replica, 503 after waiting up to 5 s, reading the head all the while),
// where without the header it is a 400: the same ordering mistake as the
// client's subscriber cap. A bad request is a 400 whatever its header asks
// to wait for; a subscription at its cap is a 503 before it waits. On
// both stores, reads and subscriptions.
func TestABadReadIsABadRequestWhateverItsMinPosition(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		_, _, srv := liveServerOf(t, k, esthttp.Options{MaxSubscribers: 10, MaxSubscribersPerClient: 1}, nil)
		id := uuid.NewString()
		ask := func(path, accept string) *http.Response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set(esthttp.MinPositionHeader, "999999")
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return resp
		}
		for _, accept := range []string{"", "text/event-stream"} {
			for _, c := range []struct {
				path         string
				canSubscribe bool // else an event stream alone is a 406 there, whatever else is wrong
			}{
				{"/events?after=zz", true}, {"/events?no_such=1", true}, {"/streams?limit=0", false}, {"/streams/not-a-uuid", false},
				{"/streams/not-a-uuid/events", true}, {"/streams/" + id + "/events?from=zz", true}, {"/streams/" + id + "/events/zz", false},
			} {
				want := http.StatusBadRequest
				if accept != "" && !c.canSubscribe {
					want = http.StatusNotAcceptable
				}
				if resp := ask(c.path, accept); resp.StatusCode != want {
					t.Errorf("GET %s (Accept %q) with %s past the head: %d, want %d as without it", c.path, accept, esthttp.MinPositionHeader, resp.StatusCode, want)
				}
			}
		}
		// At the client's cap, a subscription is refused before it waits:
		// here reads see every append, so a position past the head needs
		// no wait to be told a 409, as without the cap
		// (TestAtTheCapAStartingPointPastTheHeadIsStillAConflict).
		held, err := http.NewRequest(http.MethodGet, srv.URL+"/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		held.Header.Set("Accept", "text/event-stream")
		first, err := http.DefaultClient.Do(held)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Body.Close()
		readToCaughtUp(t, first.Body)
		for _, path := range []string{"/events", "/streams/" + id + "/events"} {
			start := time.Now()
			if resp := ask(path, "text/event-stream"); resp.StatusCode != http.StatusConflict || time.Since(start) > 2*time.Second {
				t.Errorf("GET %s, a subscription at its client's cap, with %s past the head: %d after %v, want 409 at once as without the cap",
					path, esthttp.MinPositionHeader, resp.StatusCode, time.Since(start))
			}
		}
	})
}
