package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionThatDeclaresABodyIsRefusedAtOnceAndHoldsNothing: a
// subscription (GET /events or /streams/{id}/events with Accept:
// text/event-stream) that said it had a body (Content-Length: 10, or
// chunked) and never sent it got no answer until the server's ReadTimeout
// (a minute): net/http reads what is left of an unread small body before
// it writes a kept-alive response's first bytes. Meanwhile it held a
// subscription place (two of them made the client's next real
// subscription a 503) and a stop's drain its whole timeout. A subscription
// has no body: it is a 400 at once, saying so, with Connection: close, the
// connection then closed by the server; it takes no place; and a stop
// right after does not wait for it. The server's ReadTimeout is a minute:
// only the fix answers before the client's wait ends. On both stores.
// Found by the twenty-third session's black-box re-test (F1).
func TestASubscriptionThatDeclaresABodyIsRefusedAtOnceAndHoldsNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		// One place per client: a request holding one would refuse the
		// real subscription at the end.
		store := k.Open(t)
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, MaxSubscribers: 2, MaxSubscribersPerClient: 1})
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnContext = esthttp.ConnContext // as the binary does
		srv.Config.ReadTimeout = time.Minute
		srv.Start()
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)
		stream := "/streams/" + uuid.NewString() + "/events"
		for _, c := range []struct{ path, framing string }{
			{"/events?after=0", "Content-Length: 10"},
			{"/events", "Transfer-Encoding: chunked"},
			{stream, "Content-Length: 10"},
			{stream + "?from=1", "Transfer-Encoding: chunked"},
		} {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			if _, err := io.WriteString(conn, "GET "+c.path+" HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n"+c.framing+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // well before the server's ReadTimeout
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
			if err != nil {
				t.Errorf("subscription %s with %s and no body sent: no answer (%v); want a 400 at once", c.path, c.framing, err)
				continue
			}
			var p struct{ Type, Detail string }
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !resp.Close || err != nil || !strings.Contains(p.Detail, "no body") {
				t.Errorf("subscription %s with %s and no body sent: %d, closing %v, %+v (%v); "+
					"want a 400 saying a subscription has no body, closing the connection", c.path, c.framing, resp.StatusCode, resp.Close, p, err)
			}
			// The server closes the connection (after a moment for a body
			// that comes): it holds nothing.
			if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
				t.Errorf("subscription %s with %s, after its answer: read %d bytes, %v; want the server to close the connection (EOF)", c.path, c.framing, n, err)
			}
		}

		// None of them holds a place: a real subscription is served.
		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := ""
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("a subscription after those refused: %d %s; want it served (they hold no place)", resp.StatusCode, body)
		}

		// A stop with one such request just answered does not wait for it.
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := io.WriteString(conn, "GET /events HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\nContent-Length: 10\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodGet}); err != nil {
			t.Fatalf("a subscription with Content-Length: 10 and no body sent, before a stop: no answer (%v)", err)
		} else {
			resp.Body.Close()
		}
		h.CloseSubscriptions()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // well before the ReadTimeout
		defer cancel()
		if err := srv.Config.Shutdown(ctx); err != nil {
			t.Errorf("a stop with a subscription that declared a body open: %v; want the drain to end without waiting for the body", err)
		}
	})
}
