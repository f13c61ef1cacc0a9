package http_test

import (
	"bufio"
	"context"
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

// heldReadStore holds a read of the log after its events' first half,
// until released: a long page whose status and first bytes are sent.
type heldReadStore struct {
	eventstore.Store
	held, release chan struct{}
}

func (s *heldReadStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := s.Store.ReadAll(ctx, opts)
	if err != nil {
		return page, err
	}
	events := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		n := 0
		for e, err := range events {
			if n++; n == opts.Limit/2+1 {
				close(s.held)
				<-s.release
			}
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
}

// TestAStreamedReadBegunBeforeStoppingClosesItsConnectionAfterIt: a read
// whose status went out before Stopping (a long page, streamed) cannot say
// Connection: close any more, and its kept-alive connection, ended during
// the shutdown delay, stayed with the pooled client, whose next request
// raced the drain's close of idle connections (an append already written
// is not retried by Go's client). The server now closes such a connection
// as soon as the answer has ended, as it does one that said Connection:
// close: the client finds it closed, not idle, and opens its next one to
// another instance. The answer itself ends whole. On a raw kept-alive
// connection to a server on the bounded listener, as the binary runs.
func TestAStreamedReadBegunBeforeStoppingClosesItsConnectionAfterIt(t *testing.T) {
	t.Parallel()
	store := &heldReadStore{Store: teststore.SQLite.Open(t), held: make(chan struct{}), release: make(chan struct{})}
	// Events large enough that the page's first half fills the writer's
	// buffer: the status and the first events are on the wire.
	data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
	events := make([]eventstore.NewEvent, 20)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "X", Data: data}
	}
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "a", Events: events}); err != nil {
		t.Fatal(err)
	}
	h := esthttp.New(store, esthttp.Options{Logger: slog.New(slog.DiscardHandler)})
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
	fmt.Fprint(c, "GET /events?limit=20 HTTP/1.1\r\nHost: x\r\n\r\n") //nolint:errcheck // the read below says
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
	body, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasSuffix(string(body), "]}\n") {
		t.Fatalf("the read's body, ended once stopping: %d bytes, %v; want it whole", len(body), err)
	}
	expectClosedByServer(t, "after a streamed read begun before Stopping and ended after", c, br)
}
