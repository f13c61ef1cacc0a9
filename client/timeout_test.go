package client

import (
	"context"
	"errors"
	"io"
	"iter"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestEveryCallIsCutAtTheRequestTimeout: against a server that accepts and
// never answers, or that sends its answer's headers and then nothing more,
// every call but a subscription returns at the client's request timeout
// with ErrRequestTimeout, the caller's context still open. Without it a
// call hung for as long as the server held it (for ever, here) unless the
// caller's context had a deadline.
func TestEveryCallIsCutAtTheRequestTimeout(t *testing.T) {
	t.Parallel()
	// A 201 (an append's success), in JSON, whose body stops after its
	// first chunk.
	const stalled = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\nb\r\n{\"events\":[\r\n"
	servers := map[string]string{
		"a server that accepts and never answers": tcptest.Silent(t),
		"a server whose answer stalls after its headers": tcptest.Serve(t, func(conn net.Conn) {
			conn.Read(make([]byte, 64<<10)) //nolint:errcheck // the request
			io.WriteString(conn, stalled)   //nolint:errcheck // a test's server
			io.Copy(io.Discard, conn)       //nolint:errcheck // until the client leaves
		}),
	}
	first := func(seq iter.Seq2[Event, error]) error {
		for _, err := range seq {
			return err
		}
		return nil
	}
	calls := map[string]func(t *testing.T, ctx context.Context, c *Client) error{
		"Append": func(t *testing.T, ctx context.Context, c *Client) error {
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: 1})
			if err != nil && !strings.Contains(err.Error(), "unknown") {
				t.Errorf("Append's error %q does not say whether the events are stored is unknown", err)
			}
			return err
		},
		"Stream": func(_ *testing.T, ctx context.Context, c *Client) error {
			_, err := c.Stream(ctx, uuid.New())
			return err
		},
		"ReadAll": func(_ *testing.T, ctx context.Context, c *Client) error {
			return first(c.ReadAll(ctx, ReadAllOptions{}))
		},
		"ReadStream": func(_ *testing.T, ctx context.Context, c *Client) error {
			return first(c.ReadStream(ctx, uuid.New(), ReadStreamOptions{}))
		},
	}
	for server, addr := range servers {
		for call, do := range calls {
			t.Run(server+"/"+call, func(t *testing.T) {
				t.Parallel()
				const timeout = 200 * time.Millisecond
				c := newClient(t, "http://"+addr, WithRequestTimeout(timeout))
				// Only a safety net: the call must end long before it.
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := do(t, ctx, c)
				switch {
				case ctx.Err() != nil:
					t.Fatalf("returned %v only when the caller's context ended; expected ErrRequestTimeout after %v", err, timeout)
				case !errors.Is(err, ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded):
					t.Fatalf("returned %v; expected an error that is ErrRequestTimeout and context.DeadlineExceeded", err)
				case !strings.Contains(err.Error(), timeout.String()):
					t.Errorf("the error %q does not name the timeout, %v", err, timeout)
				}
			})
		}
	}
}

// TestNewBoundsRequestsByDefault: a client made without
// WithRequestTimeout has DefaultRequestTimeout; WithRequestTimeout(0)
// takes the bound away.
func TestNewBoundsRequestsByDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts []Option
		want time.Duration
	}{
		{nil, DefaultRequestTimeout},
		{[]Option{WithRequestTimeout(5 * time.Second)}, 5 * time.Second},
		{[]Option{WithRequestTimeout(0)}, 0},
		{[]Option{WithRequestTimeout(-time.Second)}, 0},
	} {
		c := newClient(t, "http://localhost:8080", tc.opts...)
		if c.timeout != tc.want {
			t.Errorf("with %d options the request timeout is %v; expected %v", len(tc.opts), c.timeout, tc.want)
		}
	}
}

// TestTheRequestTimeoutCutsNoSubscription: a subscription whose headers
// come after several request timeouts, and whose events come each after
// more, is never cut by it: it delivers every event on its one connection.
func TestTheRequestTimeoutCutsNoSubscription(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	url, conns := slowSubscription(t, 3*timeout)
	c := newClient(t, url, WithRequestTimeout(timeout))
	expectThreeEventsOnOneConnection(t, c, conns)
}

// TestAnHTTPClientsTimeoutCutsNoSubscription: an http.Client given with
// WithHTTPClient that has a Timeout (a program's usual one) cut every
// subscription at it, which then reconnected, again and again; its
// Timeout is now the request timeout, unless WithRequestTimeout is given,
// and the caller's http.Client is left as it is.
func TestAnHTTPClientsTimeoutCutsNoSubscription(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	url, conns := slowSubscription(t, 3*timeout)
	hc := &http.Client{Timeout: timeout}
	c := newClient(t, url, WithHTTPClient(hc))
	expectThreeEventsOnOneConnection(t, c, conns)
	if c.timeout != timeout || hc.Timeout != timeout {
		t.Errorf("the request timeout is %v, the caller's http.Client's Timeout %v; expected both %v", c.timeout, hc.Timeout, timeout)
	}
	if c, _ := New(url, WithHTTPClient(hc), WithRequestTimeout(time.Second)); c.timeout != time.Second {
		t.Errorf("with WithRequestTimeout(1s) too the request timeout is %v; expected 1s", c.timeout)
	}
}

// slowSubscription serves a log subscription whose headers, then each of
// its three events, come after pause, and returns its URL and the count of
// its connections.
func slowSubscription(t *testing.T, pause time.Duration) (string, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		conns.Add(1)
		wait := func() bool {
			select {
			case <-time.After(pause):
				return true
			case <-r.Context().Done():
				return false
			}
		}
		if !wait() {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		for pos := 1; pos <= 3 && wait(); pos++ {
			io.WriteString(w, "id: "+strconv.Itoa(pos)+"\ndata: "+sseEvent(pos)+"\n\n") //nolint:errcheck // a test's answer
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	})
	return srv.URL, &conns
}

// expectThreeEventsOnOneConnection subscribes with c to a slowSubscription
// and expects its three events on its one connection, never cut.
func expectThreeEventsOnOneConnection(t *testing.T, c *Client, conns *atomic.Int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []int64
	for m, err := range c.Subscribe(ctx, SubscribeOptions{OnDisconnect: func(err error, _ time.Duration) {
		t.Errorf("the connection ended: %v; expected it to outlive the request timeout", err)
	}}) {
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if got = append(got, m.Event.Position); len(got) == 3 {
			break
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections; expected the one, never cut", n)
	}
}

// TestAReadsRequestTimeoutBoundsEachPageNotTheConsumer: the request
// timeout bounds each page's request, not the whole read: a consumer that
// takes longer than it on each event reads every page.
func TestAReadsRequestTimeoutBoundsEachPageNotTheConsumer(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		w.Header().Set("Content-Type", "application/json")
		if after < 3 {
			w.Header().Set("Link", "</events?after="+strconv.Itoa(after+1)+`>; rel="next"`)
			io.WriteString(w, `{"events":[`+sseEvent(after+1)+`]}`) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
	}, WithRequestTimeout(timeout))
	var got []int64
	for e, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
		if err != nil {
			t.Fatalf("after %v: %v; expected each page within its own request timeout", got, err)
		}
		got = append(got, e.Position)
		time.Sleep(timeout + timeout/3)
	}
	if len(got) != 3 {
		t.Errorf("read %v; expected positions 1 to 3", got)
	}
}
