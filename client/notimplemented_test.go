package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestANotImplementedTransferEncodingIsErrNotImplemented: the server's
// connections answer a Transfer-Encoding net/http does not take with a 501
// problem of type not-implemented (no handler runs). A gateway in front
// that rewrites an append's framing so gets that answer; the client gives
// it as ErrNotImplemented, and as no other sentinel.
func TestANotImplementedTransferEncodingIsErrNotImplemented(t *testing.T) {
	t.Parallel()
	h := handlerOf(t, teststore.SQLite.Open(t), time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := esthttp.NewConnections(16, 16, slog.New(slog.DiscardHandler), metrics.New("test"))
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })

	c := newClient(t, "http://"+ln.Addr().String(), WithHTTPClient(&http.Client{Transport: identityFraming{}}))
	_, err = c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "note"}, NoStream, NewEvent{Type: "Noted", Data: 1})
	var p *Problem
	if !errors.As(err, &p) || p.Type != problemBase+"not-implemented" || p.Status != http.StatusNotImplemented {
		t.Fatalf("an append sent with Transfer-Encoding: identity gave %v (%+v); expected the server's 501 not-implemented problem", err, p)
	}
	if !errors.Is(err, ErrNotImplemented) {
		t.Errorf("a not-implemented problem (%v) is not ErrNotImplemented", err)
	}
	for ty, other := range problemErrors {
		if ty != "not-implemented" && errors.Is(err, other) {
			t.Errorf("a not-implemented problem is %v too", other)
		}
	}
}

// identityFraming is a gateway that sends each request with
// Transfer-Encoding: identity and its body as it is, on a connection of its
// own, and reads the answer.
type identityFraming struct{}

func (identityFraming) RoundTrip(r *http.Request) (*http.Response, error) {
	conn, err := net.Dial("tcp", r.URL.Host)
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		if body, err = io.ReadAll(r.Body); err != nil {
			conn.Close()
			return nil, err
		}
	}
	head := r.Method + " " + r.URL.RequestURI() + " HTTP/1.1\r\nHost: " + r.URL.Host + "\r\n"
	for name, values := range r.Header {
		for _, v := range values {
			head += name + ": " + v + "\r\n"
		}
	}
	head += "Transfer-Encoding: identity\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write(append([]byte(head), body...)); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), r)
	if err != nil {
		conn.Close()
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{resp.Body, conn}
	return resp, nil
}
