package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// cutting starts a server that answers every GET with body, a 200 of
// JSON, cut partway (the connection dropped after its first half) for the
// first cuts requests of each request target, and every POST with body as
// a 201, always cut; asked counts the requests of each method and target.
func cutting(t *testing.T, body string, cuts int) (*httptest.Server, func(method, uri string) int) {
	t.Helper()
	var mu sync.Mutex
	asked := map[string]int{}
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.Method+" "+r.URL.RequestURI()]++
		n := asked[r.Method+" "+r.URL.RequestURI()]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		if r.Method == http.MethodGet && n > cuts {
			io.WriteString(w, body) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, body[:len(body)/2]) //nolint:errcheck // a test's answer
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection dropped mid-body
	})
	return srv, func(method, uri string) int {
		mu.Lock()
		defer mu.Unlock()
		return asked[method+" "+uri]
	}
}

// TestAReadWhoseAnswerIsCutIsSentAgainWithReadRetries: WithReadRetries
// sent a read again only when it got no answer: one whose body was cut
// partway (a connection reset, a proxy or server that went away
// mid-answer) failed at once, where the read, a GET, is as safe to send
// again as one that got nothing, and nothing of the cut page had been
// handed over. A read whose answer is cut is now sent again, counted
// with the others against n: each read here, its first answer cut,
// succeeds on its second request. Without the option it fails at the
// cut, from one request, as before.
func TestAReadWhoseAnswerIsCutIsSentAgainWithReadRetries(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	body := `{"stream_id":"` + stream.String() + `","stream_type":"order","version":1,"created_at":"2026-12-04T00:00:00Z","updated_at":"2026-12-04T00:00:00Z","events":[` + eventJSON(uuid.New(), stream, 1, 1) + `]}`
	ctx := context.Background()
	t.Run("without", func(t *testing.T) {
		t.Parallel()
		srv, asked := cutting(t, body, 1)
		c := newClient(t, srv.URL)
		uri := "/streams/" + stream.String()
		if _, err := c.Stream(ctx, stream); err == nil || asked("GET", uri) != 1 {
			t.Errorf("Stream without WithReadRetries, its answer cut: %v from %d requests; expected an error from 1 request", err, asked("GET", uri))
		}
	})
	t.Run("with", func(t *testing.T) {
		t.Parallel()
		srv, asked := cutting(t, body, 1)
		c := newClient(t, srv.URL, WithReadRetries(2))
		if st, err := c.Stream(ctx, stream); err != nil || st.Version != 1 {
			t.Errorf("Stream with WithReadRetries(2), its first answer cut: %+v, %v; expected the stream at version 1", st, err)
		}
		if got, err := readPositions(c.ReadStream(ctx, stream, ReadStreamOptions{})); fmt.Sprint(got) != "[1]" || err != nil {
			t.Errorf("ReadStream with WithReadRetries(2), its first answer cut: %v, then %v; expected [1] and no error", got, err)
		}
		if got, err := readPositions(c.ReadAll(ctx, ReadAllOptions{})); fmt.Sprint(got) != "[1]" || err != nil {
			t.Errorf("ReadAll with WithReadRetries(2), its first answer cut: %v, then %v; expected [1] and no error", got, err)
		}
		for _, uri := range []string{"/streams/" + stream.String(), "/streams/" + stream.String() + "/events", "/events"} {
			if n := asked("GET", uri); n != 2 {
				t.Errorf("GET %s, its first answer cut, was sent %d times; expected 2", uri, n)
			}
		}
	})
}

// TestACutReadIsSentAgainOnlyUpToItsRetries: a read whose every answer is
// cut is sent n+1 times with WithReadRetries(n), no more, and fails with
// the cut's error (the answer's end came too soon).
func TestACutReadIsSentAgainOnlyUpToItsRetries(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	body := `{"stream_id":"` + stream.String() + `","stream_type":"order","version":1,"events":[]}`
	srv, asked := cutting(t, body, 1000)
	c := newClient(t, srv.URL, WithReadRetries(1))
	uri := "/streams/" + stream.String()
	_, err := c.Stream(context.Background(), stream)
	if !errors.Is(err, io.ErrUnexpectedEOF) || asked("GET", uri) != 2 {
		t.Errorf("Stream with WithReadRetries(1), every answer cut: %v from %d requests; expected io.ErrUnexpectedEOF from 2 requests", err, asked("GET", uri))
	}
}

// TestAnAppendWhoseAnswerIsCutIsNotSentAgain: an append is never sent
// again by the client, WithReadRetries or not: its answer cut, it fails
// from one request, its outcome unknown.
func TestAnAppendWhoseAnswerIsCutIsNotSentAgain(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	srv, asked := cutting(t, `{"stream_id":"`+stream.String()+`","stream_type":"order","version":1,"events":[]}`, 0)
	c := newClient(t, srv.URL, WithReadRetries(3))
	_, err := c.Append(context.Background(), StreamRef{ID: stream, Type: "order"}, Any, NewEvent{Type: "A", Data: 1})
	if err == nil || asked("POST", "/streams/"+stream.String()+"/events") != 1 {
		t.Errorf("Append with WithReadRetries(3), its answer cut: %v from %d requests; expected an error from 1 request", err, asked("POST", "/streams/"+stream.String()+"/events"))
	}
}

// TestAReadAnsweredWithBrokenJSONIsNotSentAgain: an answer that came
// whole but is not JSON (a server's or proxy's fault, which the same
// request meets again) is no cut: it fails from one request, even with
// WithReadRetries.
func TestAReadAnsweredWithBrokenJSONIsNotSentAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := 0
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id": nope}`) //nolint:errcheck // a test's answer
	})
	c := newClient(t, srv.URL, WithReadRetries(3))
	_, err := c.Stream(context.Background(), uuid.New())
	mu.Lock()
	defer mu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "decode") || sent != 1 {
		t.Errorf("Stream with WithReadRetries(3), answered broken JSON: %v from %d requests; expected a decoding error from 1 request", err, sent)
	}
}

// TestAReadWhoseHTTP2StreamIsResetIsSentAgain: over HTTP/2 an answer cut
// partway comes as its stream reset (RST_STREAM), not as a connection's
// end: an error of its own kind, which is a cut all the same, and the
// read is sent again as over HTTP/1.1.
func TestAReadWhoseHTTP2StreamIsResetIsSentAgain(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	body := `{"stream_id":"` + stream.String() + `","stream_type":"order","version":1,"events":[]}`
	var mu sync.Mutex
	sent := 0
	var proto string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		n := sent
		proto = r.Proto
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			io.WriteString(w, body[:len(body)/2]) //nolint:errcheck // a test's answer
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the stream reset mid-body
		}
		io.WriteString(w, body) //nolint:errcheck // a test's answer
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, WithHTTPClient(srv.Client()), WithReadRetries(1))
	st, err := c.Stream(context.Background(), stream)
	mu.Lock()
	defer mu.Unlock()
	if err != nil || st.Version != 1 || sent != 2 || proto != "HTTP/2.0" {
		t.Errorf("Stream over %s with WithReadRetries(1), its first answer's stream reset: %+v, %v from %d requests; expected the stream at version 1 from 2 requests over HTTP/2.0", proto, st, err, sent)
	}
}

// TestAReadCutByTheRequestTimeoutIsNotSentAgain: an answer whose body
// stops coming and is cut by the client's own request timeout is no cut
// of the transport's: the read fails with ErrRequestTimeout from one
// request, WithReadRetries or not, as its documentation says.
func TestAReadCutByTheRequestTimeoutIsNotSentAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := 0
	stop := make(chan struct{})
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":`) //nolint:errcheck // a test's answer
		w.(http.Flusher).Flush()
		select { // the rest never comes
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) }) // before srv.Close
	c := newClient(t, srv.URL, WithRequestTimeout(100*time.Millisecond), WithReadRetries(2))
	_, err := c.Stream(context.Background(), uuid.New())
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(err, ErrRequestTimeout) || sent != 1 {
		t.Errorf("Stream with WithReadRetries(2), its body stalled past the request timeout: %v from %d requests; expected ErrRequestTimeout from 1 request", err, sent)
	}
}
