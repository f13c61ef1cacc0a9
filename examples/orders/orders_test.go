package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/client"
)

// The example against a real server is tested in tests/examples_test.go;
// these are the parts that need none.

func TestRunRejectsBadFlagsBeforeDoingAnything(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-orders", "-1"}, "-orders"},
		{[]string{"-orders", "100000"}, "-orders"},
		{[]string{"-orders", "2", "extra"}, `"extra"`},
		{[]string{"-server", "localhost:8080"}, "http(s)://"},
	} {
		// Port 1 refuses connections: a run that got as far as the
		// server would fail, but with a connection error instead.
		args := append([]string{"-server", "http://127.0.0.1:1"}, tc.args...)
		err := run(context.Background(), args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("orders %s: expected an error naming %s, got %v", strings.Join(tc.args, " "), tc.want, err)
		}
	}
}

func TestRunAnswersHelpWithoutAnError(t *testing.T) {
	t.Parallel()
	if err := run(context.Background(), []string{"-h"}, io.Discard); err != nil {
		t.Errorf("orders -h: expected the flags listed and no error (exit status 0), got %v", err)
	}
}

// sseServer answers every subscription with frames, then holds the
// connection open until the client goes.
func sseServer(t *testing.T, frames string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, frames) //nolint:errcheck // the test sees what arrived
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func eventFrame(order uuid.UUID, version, position int64, typ, data string) string {
	return fmt.Sprintf("id: %d\ndata: {\"id\":%q,\"stream_id\":%q,\"stream_type\":\"order\",\"version\":%d,\"position\":%d,\"type\":%q,\"data\":%s}\n\n",
		position, uuid.New(), order, version, position, typ, data)
}

// TestProjectionStopsAtAnEventItCannotDecode: skipping the event would
// leave the read model wrong for good, with nothing to show it; stopping
// before it leaves the position at the event before, where a restarted
// projection resumes once the decoding is fixed.
func TestProjectionStopsAtAnEventItCannotDecode(t *testing.T) {
	t.Parallel()
	order := uuid.New()
	c := sseServer(t, "retry: 100\n\n"+
		eventFrame(order, 1, 1, "OrderPlaced", `{"customer":"c"}`)+
		eventFrame(order, 2, 2, "LineAdded", `{"sku":"A-1","qty":"two","price":10}`)+
		eventFrame(order, 3, 3, "LineAdded", `{"sku":"B-2","qty":1,"price":5}`)+
		"event: caught-up\ndata: 3\n\n")
	m := newReadModel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := m.follow(ctx, c)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "position 2") {
		t.Errorf("expected the projection to stop with an error naming position 2, got %v", err)
	}
	v, _ := m.get(order)
	if m.position != 1 || v.Lines != 0 || v.Total != 0 {
		t.Errorf("expected the model left at position 1 with no line, got position %d and %+v", m.position, v)
	}
}

// TestSaveSendsTheBatchAgainWhenItsAnswerIsCut: a save whose 201 was cut
// before its body ended (the connection lost halfway) cannot know where
// its events went; it looked only for a *url.Error, which such a cut is
// not, and failed. It now sends the batch again, with the same ids, as
// for any client.ErrOutcomeUnknown, and takes the server's 200 for it.
func TestSaveSendsTheBatchAgainWhenItsAnswerIsCut(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Events []struct {
				ID uuid.UUID `json:"id"`
			} `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Events) != 1 {
			http.Error(w, "not a batch of one", http.StatusBadRequest)
			return
		}
		id := req.Events[0].ID
		mu.Lock()
		posts = append(posts, id.String())
		first := len(posts) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		body := fmt.Sprintf(`{"stream_id":%q,"stream_type":"order","version":1,"events":[{"id":%q,"version":1,"position":7,"recorded_at":"2026-12-06T00:00:00Z"}]}`,
			path.Base(path.Dir(r.URL.Path)), id)
		if first {
			// The whole length announced, half of it sent, then the end.
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, body[:len(body)/2]) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, body) //nolint:errcheck // a test's answer
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	o := &Order{ID: uuid.New()}
	o.pending = []client.NewEvent{{ID: uuid.New(), Type: "OrderPlaced", Data: map[string]string{"customer": "c"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := save(ctx, c, o)
	mu.Lock()
	defer mu.Unlock()
	switch {
	case err != nil:
		t.Fatalf("save: %v; expected the batch sent again and the server's 200 taken", err)
	case len(posts) != 2 || posts[0] != posts[1]:
		t.Errorf("sent the event ids %v; expected the one batch twice, with the same id", posts)
	case res.Version != 1 || o.Version != 1 || o.pending != nil:
		t.Errorf("saved at version %d, the order at %d with %d pending; expected version 1, nothing pending", res.Version, o.Version, len(o.pending))
	}
}

// TestSaveWaitsNoLongerThanItsBoundWhateverRetryAfterSays: save waited
// a 503's Retry-After as it came, which the client leaves uncapped
// (Problem.RetryAfter: "bound it before you wait on it"): a proxy's
// Retry-After of a day, or a date in the year 9999, parked the save, and
// the command with it, for as long. The wait before the next sending is
// the server's when longer than the backoff, up to maxSaveWait.
func TestSaveWaitsNoLongerThanItsBoundWhateverRetryAfterSays(t *testing.T) {
	t.Parallel()
	far := time.Duration(1<<63 - 1) // what a date in the year 9999 comes to, near enough
	for _, c := range []struct {
		backoff time.Duration
		p       *client.Problem
		want    time.Duration
	}{
		{100 * time.Millisecond, nil, 100 * time.Millisecond},
		{100 * time.Millisecond, &client.Problem{Status: 503, RetryAfter: 2 * time.Second}, 2 * time.Second},
		{400 * time.Millisecond, &client.Problem{Status: 503}, 400 * time.Millisecond},
		{100 * time.Millisecond, &client.Problem{Status: 503, RetryAfter: 24 * time.Hour}, maxSaveWait},
		{100 * time.Millisecond, &client.Problem{Status: 503, RetryAfter: far}, maxSaveWait},
		{10 * time.Minute, nil, maxSaveWait},
	} {
		if got := saveWait(c.backoff, c.p); got != c.want {
			t.Errorf("backoff %v, %+v: waited %v; expected %v", c.backoff, c.p, got, c.want)
		}
	}
}
