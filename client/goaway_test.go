package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestAReadCutByAnHTTP2GoAwayIsSentAgainOnANewConnection: an HTTP/2
// server going away (a graceful shutdown's GOAWAY, then the connection
// closed before the read's answer was whole: a drain cut short, a proxy
// restarting) fails the read with net/http's GOAWAY error, which
// WithReadRetries did not take for a connection lost before the answer's
// headers: the read failed at once, where a connection reset over HTTP/1
// is sent again. A GOAWAY that cuts the answer's body was sent again
// already, and is pinned here. Each is now sent again, on a new
// connection (to another server here, as a restarted one's), and the read
// succeeds; nothing is sent again on the connection that went away.
func TestAReadCutByAnHTTP2GoAwayIsSentAgainOnANewConnection(t *testing.T) {
	t.Parallel()
	for name, bodyFirst := range map[string]bool{"before the answer": false, "within the body": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{}, 1)
			leaving := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/probe" {
					return
				}
				if bodyFirst {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"events":[`+sseEvent(1)) //nolint:errcheck // a test's answer, cut
					w.(http.Flusher).Flush()
				}
				started <- struct{}{}
				<-r.Context().Done() // its connection closed
			})
			staying := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/probe" {
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			})
			// The first connection goes to the server going away, every
			// later one to the one staying.
			var dials atomic.Int64
			tr := staying.Client().Transport.(*http.Transport).Clone()
			var d net.Dialer
			tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				addr := staying.Listener.Addr().String()
				if dials.Add(1) == 1 {
					addr = leaving.Listener.Addr().String()
				}
				return d.DialContext(ctx, network, addr)
			}
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, leaving.URL, WithHTTPClient(&http.Client{Transport: tr}), WithReadRetries(1))
			type result struct {
				got []int64
				err error
			}
			done := make(chan result, 1)
			go func() {
				got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
				done <- result{got, err}
			}()
			<-started
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go leaving.Config.Shutdown(ctx) //nolint:errcheck // ended by cancel; its connection closed below
			// The GOAWAY is on its way; the client has it once a new
			// request goes to a new connection.
			for dials.Load() < 2 {
				res, err := tr.RoundTrip(mustRequest(t, leaving.URL+"/probe"))
				if err != nil {
					t.Fatalf("a probe of the server going away: %v", err)
				}
				res.Body.Close()
			}
			leaving.CloseClientConnections()
			r := <-done
			if fmt.Sprint(r.got) != "[1]" || r.err != nil || dials.Load() != 2 {
				t.Errorf("a read whose HTTP/2 connection went away (GOAWAY, then closed) %s, WithReadRetries(1): read %v, then %v, over %d connections; expected [1], read again on the second connection",
					name, r.got, r.err, dials.Load())
			}
		})
	}
}

// h2Server starts an httptest server speaking HTTP/2 over TLS that
// answers with h; it is closed when the test ends.
func h2Server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// mustRequest is a GET of u, or the test fails.
func mustRequest(t *testing.T, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestAReadWhoseHTTP2StreamIsResetBeforeItsAnswerIsSentAgain: an HTTP/2 server
// (or a proxy) that resets a read's stream before answering (RST_STREAM,
// as a handler that aborts sends) failed the read at once with
// WithReadRetries, where HTTP/1's reset connection is sent again: the
// retry knew the errors of TCP only. It is now sent again, and succeeds.
func TestAReadWhoseHTTP2StreamIsResetBeforeItsAnswerIsSentAgain(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	srv := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) == 1 {
			panic(http.ErrAbortHandler) // RST_STREAM, no answer
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
	})
	c := newClient(t, srv.URL, WithHTTPClient(srv.Client()), WithReadRetries(1))
	got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
	if fmt.Sprint(got) != "[1]" || err != nil || asked.Load() != 2 {
		t.Errorf("a read whose HTTP/2 stream the server reset before answering, WithReadRetries(1): read %v, then %v, asked %d times; expected [1], asked twice", got, err, asked.Load())
	}
}
