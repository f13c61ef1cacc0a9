package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestReadsRetryA503WithReadRetries: a read (a stream's description, a
// page of a stream or of the log) answered 503 with Retry-After failed at
// once with ErrUnavailable, while the server said when to come back, and
// only appends had a retry story. With WithReadRetries a read is sent
// again after the server's Retry-After, here once: against the real
// handler on both stores, behind a gateway that answers each path's first
// request 503, each read succeeds on its second request. Without the
// option it still fails at once, as before.
func TestReadsRetryA503WithReadRetries(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		h := tributaryHandler(t, k)
		var mu sync.Mutex
		asked := map[string]int{}
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				mu.Lock()
				asked[r.URL.RequestURI()]++
				n := asked[r.URL.RequestURI()]
				mu.Unlock()
				if n == 1 {
					w.Header().Set("Content-Type", "application/problem+json")
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusServiceUnavailable)
					w.Write([]byte(`{"type":"` + problemBase + `unavailable","title":"Service unavailable","status":503,"detail":"the database did not answer"}`)) //nolint:errcheck // a test's answer
					return
				}
			}
			h.ServeHTTP(w, r)
		})
		ctx := context.Background()
		plain := newClient(t, srv.URL)
		id := uuid.New()
		if _, err := plain.Append(ctx, StreamRef{ID: id, Type: "note"}, NoStream, NewEvent{Type: "Noted", Data: 1}, NewEvent{Type: "Noted", Data: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Stream(ctx, id); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Stream without WithReadRetries, answered 503: %v; expected ErrUnavailable at once", err)
		}

		c := newClient(t, srv.URL, WithReadRetries(1))
		other := uuid.New()
		if _, err := c.Append(ctx, StreamRef{ID: other, Type: "note"}, NoStream, NewEvent{Type: "Noted", Data: 3}); err != nil {
			t.Fatal(err)
		}
		if st, err := c.Stream(ctx, other); err != nil || st.Version != 1 {
			t.Errorf("Stream with WithReadRetries(1), answered 503 then 200: %+v, %v; expected the stream at version 1", st, err)
		}
		n := 0
		for _, err := range c.ReadStream(ctx, id, ReadStreamOptions{PageSize: 1}) {
			if err != nil {
				t.Fatalf("ReadStream with WithReadRetries(1), each page answered 503 then 200: %v after %d events; expected both events", err, n)
			}
			n++
		}
		m := 0
		for _, err := range c.ReadAll(ctx, ReadAllOptions{}) {
			if err != nil {
				t.Fatalf("ReadAll with WithReadRetries(1), answered 503 then 200: %v; expected the three events", err)
			}
			m++
		}
		if n != 2 || m != 3 {
			t.Errorf("read %d events of the stream and %d of the log; expected 2 and 3", n, m)
		}
		mu.Lock()
		defer mu.Unlock()
		for uri, times := range asked {
			if times > 2 {
				t.Errorf("GET %s was sent %d times; expected twice at most (WithReadRetries(1))", uri, times)
			}
		}
	})
}

// TestAReadWaitingToRetryEndsWithItsContext: a read waiting out a
// Retry-After (an hour, cut to 5 minutes) to be sent again ends when its
// context does, with the context's error and the answer it waits out
// or the answer it waits out, and is not sent again (it waited 5 minutes).
func TestAReadWaitingToRetryEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	sent := 0
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	// The caller gives up once the answer is read, as the client waits.
	read := make(chan struct{})
	go func() { <-read; cancel() }()
	c := newClient(t, srv.URL, WithReadRetries(5), WithHTTPClient(&http.Client{Transport: closeSignal{read}}))
	_, err := c.Stream(ctx, uuid.New())
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(err, ErrUnavailable) || sent != 1 {
		t.Errorf("Stream whose context ended while it waited to retry a 503: %v, sent %d times; expected it to end with ErrUnavailable, sent once", err, sent)
	}
}

// closeSignal is a transport that closes closed when the first answer's
// body is closed.
type closeSignal struct{ closed chan struct{} }

func (s closeSignal) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		res.Body = &signalingBody{ReadCloser: res.Body, closed: s.closed}
	}
	return res, err
}

type signalingBody struct {
	io.ReadCloser
	once   sync.Once
	closed chan struct{}
}

func (b *signalingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { close(b.closed) })
	return err
}

// TestAReadIsNotSentAgainFor503sOnlyAnOperatorMends: Tributary answers
// 503 without Retry-After only where no retry mends it (an index, a table
// or the database missing, a damaged file: its detail says what an
// operator must do); WithReadRetries sent such a read again up to n
// times, with a backoff doubling to 30 s, so that the caller learned it
// minutes late, the server having said it at once. Against the real
// handler on both stores, an index of the filtered reads dropped: the
// read is sent once and fails with ErrUnavailable. (A 503 without
// Retry-After from anything else, a proxy's, is still retried.)
func TestAReadIsNotSentAgainFor503sOnlyAnOperatorMends(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		h := handlerOf(t, store, time.Second)
		var reads sync.Mutex
		asked := 0
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/events" {
				reads.Lock()
				asked++
				reads.Unlock()
			}
			h.ServeHTTP(w, r)
		})
		c := newClient(t, srv.URL, WithReadRetries(3))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "note"}, NoStream, NewEvent{Type: "A", Data: 1}); err != nil {
			t.Fatal(err)
		}
		k.Exec(t, store, "DROP INDEX events_event_type_position"+map[string]string{"mysql": " ON events", "sqlite": ""}[k.Name])
		var got error
		for _, err := range c.ReadAll(ctx, ReadAllOptions{EventTypes: []string{"A", "T"}}) {
			if err != nil {
				got = err
				break
			}
		}
		reads.Lock()
		defer reads.Unlock()
		var p *Problem
		if !errors.As(got, &p) || !errors.Is(got, ErrUnavailable) || p.RetryAfter != 0 || asked != 1 {
			t.Errorf("a filtered read, its index dropped, with WithReadRetries(3): %v after %d requests; want ErrUnavailable without Retry-After, from one request", got, asked)
		}
	})
}
