package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestStillRunningPastTheCutIsLoggedOnceAsCut: a stop past its
// timeout cuts what still runs (Cut, then the connections closed) and waits
// what is left of it for the handlers to return; an append held by the
// database's writer (a commit on its way to a frozen server) does not
// return, the process exits, and its request had no access log line at all,
// though each request cut is logged. Abandon, called once the wait has
// failed, logs it as cut (503, WARN), and the handler's own return later
// logs nothing more. On both stores.
func TestARequestStillRunningPastTheCutIsLoggedOnceAsCut(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldPastCut{Store: k.Open(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
		logs := &testlog.Buffer{}
		const token = "a-token-long-enough-to-be-accepted-0123456789"
		h := esthttp.New(store, esthttp.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			Tokens: []esthttp.Token{{Name: "writer", Role: esthttp.RoleWrite, Secret: token}}})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // which waits for the handler: release it first
		var releaseOnce sync.Once
		releaseAppend := func() { releaseOnce.Do(func() { close(store.release) }) }
		t.Cleanup(releaseAppend)
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/streams/"+uuid.NewString()+"/events",
				strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		cutWhileHeld(t, h, srv, store.entered, answered, "the append")
		h.Abandon() // the process exits now
		lines := appendLines(t, logs)
		if len(lines) != 1 || lines[0].Status != http.StatusServiceUnavailable || lines[0].Level != "WARN" ||
			lines[0].Route != "/streams/{streamID}/events" || lines[0].Token != "writer" {
			t.Fatalf("an append still running at the exit after a cut: want one access line, 503 at WARN, with its route and token; got %+v; the log says:\n%s",
				lines, logs.String())
		}
		// The handler returns after all: no second line.
		releaseAppend()
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		if err := h.Wait(wctx); err != nil {
			t.Fatalf("the released append's handler did not return: %v", err)
		}
		if lines := appendLines(t, logs); len(lines) != 1 {
			t.Errorf("an append logged at the exit, whose handler returned later: want its one line, got %d: %+v", len(lines), lines)
		}
	})
}

// heldPastCut is a store whose Append waits until release is closed, its
// context's end or not, as an append whose commit is on its way to a frozen
// database does.
type heldPastCut struct {
	eventstore.Store
	entered chan struct{}
	release chan struct{}
}

func (s *heldPastCut) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return eventstore.AppendResult{}, errors.New("released after the cut (test)")
}

// accessLine is an access log line of an append.
type accessLine struct {
	Level, Route, Token string
	Status              int
}

// appendLines returns the access log lines of POSTs in logs.
func appendLines(t *testing.T, logs *testlog.Buffer) []accessLine {
	t.Helper()
	var out []accessLine
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct {
			Msg, Level, Method, Route, Token string
			Status                           int
		}
		if line == "" || json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" || l.Method != http.MethodPost {
			continue
		}
		out = append(out, accessLine{Level: l.Level, Route: l.Route, Token: l.Token, Status: l.Status})
	}
	return out
}

// TestARequestAbandonedMidAnswerIsLoggedWithTheBytesItSent: a read whose
// answer had begun (a page of the log, written as it is read) and whose
// handler did not return past the cut (a read held by a database that
// froze mid-page) was logged by Abandon with bytes 0, as if nothing had
// gone to its client. Its line says the bytes its handler wrote. On both
// stores.
func TestARequestAbandonedMidAnswerIsLoggedWithTheBytesItSent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldMidPage{Store: k.Open(t), entered: make(chan struct{}, 1), release: make(chan struct{})}
		logs := &testlog.Buffer{}
		h := esthttp.New(store, esthttp.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close) // which waits for the handler: release it first
		var releaseOnce sync.Once
		releaseRead := func() { releaseOnce.Do(func() { close(store.release) }) }
		t.Cleanup(releaseRead)
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			if resp, err := http.Get(srv.URL + "/events"); err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // read until the cut: a client that left would end the read
				resp.Body.Close()
			}
		}()
		cutWhileHeld(t, h, srv, store.entered, answered, "the read")
		h.Abandon()
		var got []string
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct {
				Msg, Path string
				Status    int
				Bytes     int
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" || l.Path != "/events" {
				continue
			}
			got = append(got, line)
			// writeEvents writes through a buffer of 32 KB: at least one went.
			if l.Status != http.StatusServiceUnavailable || l.Bytes < 32<<10 {
				t.Errorf("a read abandoned after %d bytes of its page were written: logged %d with %d bytes; want 503 with the bytes written", heldPageBytes, l.Status, l.Bytes)
			}
		}
		if len(got) != 1 {
			t.Errorf("want one access line for the abandoned read, got %d; the log says:\n%s", len(got), logs.String())
		}
	})
}

// heldPageBytes is about how many bytes of event data heldMidPage yields
// before it holds.
const heldPageBytes = 64 << 10

// heldMidPage is a store whose ReadAll yields events of heldPageBytes in
// all, then waits until release is closed, its context's end or not, as a
// read held by a database that froze mid-page does.
type heldMidPage struct {
	eventstore.Store
	entered chan struct{}
	release chan struct{}
}

func (s *heldMidPage) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	data := json.RawMessage(`"` + strings.Repeat("x", 1<<10) + `"`)
	return eventstore.LogPage{Events: func(yield func(eventstore.Event, error) bool) {
		for i := range heldPageBytes >> 10 {
			e := eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "t", Version: 1, Position: int64(i + 1),
				Type: "Held", Data: data, RecordedAt: time.Now()}
			if !yield(e, nil) {
				return
			}
		}
		s.entered <- struct{}{}
		<-s.release
		yield(eventstore.Event{}, errors.New("released after the cut (test)"))
	}}, nil
}

// cutWhileHeld waits for a request to be held in the store (entered), cuts
// the server as a stop past its timeout does, and waits for its client to
// be answered; the request's handler must still run (what is under test
// is what the server logs of it when it gives up).
func cutWhileHeld(t *testing.T, h *esthttp.Server, srv *httptest.Server, entered, answered <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never reached the store", what)
	}
	h.Cut()
	srv.CloseClientConnections()
	<-answered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := h.Wait(ctx); err == nil {
		t.Fatalf("%s's held handler returned at the cut: the test proves nothing", what)
	}
}
