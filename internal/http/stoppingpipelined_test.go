package http_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// committingStore commits an append whatever becomes of its request's
// context once it is asked: as one already handed to the group commit,
// sent to the database, is.
type committingStore struct{ eventstore.Store }

func (s committingStore) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return s.Store.Append(context.WithoutCancel(ctx), req)
}

// TestAnAppendPipelinedBehindAStreamedReadEndedAfterStoppingIsNotWritten:
// the connection of a read whose status went out before Stopping is
// closed once its answer ends (closeWhenIdle), but an append the client
// had pipelined behind it was already in net/http's buffer: net/http
// parsed it from there without reading the closed connection, and the
// server wrote its events, answering no one (the client, its connection
// closed, sends it again: written twice). As on a connection closed to
// make room (connShut), a request parsed after the close is not handled.
// (The request's context is cancelled soon after the close, which most
// often stopped the append before its commit: not once it was under way.)
func TestAnAppendPipelinedBehindAStreamedReadEndedAfterStoppingIsNotWritten(t *testing.T) {
	t.Parallel()
	store := &heldReadStore{Store: teststore.SQLite.Open(t), held: make(chan struct{}), release: make(chan struct{})}
	data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
	events := make([]eventstore.NewEvent, 20)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "X", Data: data}
	}
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "a", Events: events}); err != nil {
		t.Fatal(err)
	}
	h := esthttp.New(committingStore{store}, esthttp.Options{Logger: slog.New(slog.DiscardHandler)})
	conns := esthttp.NewConnections(100, 100, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ConnState: conns.ConnState, ConnContext: esthttp.ConnContext}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	id := uuid.New()
	body := `{"stream_type":"order","events":[{"type":"placed","data":{}}]}`
	// One write: the append is in net/http's buffer with the read.
	fmt.Fprintf(c, "GET /events?limit=20 HTTP/1.1\r\nHost: x\r\n\r\n"+ //nolint:errcheck // the read below says
		"POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, len(body), body)
	<-store.held
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the read's status: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("the read's status before Stopping: %d, Connection: close %v; want 200 on a connection kept", resp.StatusCode, resp.Close)
	}
	h.Stopping()
	close(store.release)
	if b, err := io.ReadAll(resp.Body); err != nil || !strings.HasSuffix(string(b), "]}\n") {
		t.Fatalf("the read's body, ended once stopping: %d bytes, %v; want it whole", len(b), err)
	}
	expectClosedByServer(t, "after a streamed read begun before Stopping and ended after, an append pipelined behind it", c, br)
	// Shutdown returns once the connection's goroutine has ended: the
	// append, if handled, has been.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, err := store.Stream(context.Background(), id); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("the stream of the append pipelined on the connection closed: %+v, %v; want none written (ErrStreamNotFound): its answer reached no one", s, err)
	}
}
