package http_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestARefusedHEADIsAnsweredWithoutContent: a connection refused at a
// bound is answered 503 with a problem, whatever its request; a HEAD's
// answer carried the problem's bytes too, which a response to HEAD must not
// (RFC 9110 §9.3.2): a client or proxy that keeps the connection reads
// them as the start of the next response. A HEAD's 503 says the problem's
// Content-Length and sends no content now; a GET's is as before. No store
// is involved.
func TestARefusedHEADIsAnsweredWithoutContent(t *testing.T) {
	t.Parallel()
	b := startBounded(t, 1, 1)
	dialFrom(t, b.addr, "127.0.0.1").send(t, "/block")
	for _, tc := range []struct{ method, request string }{
		{http.MethodHead, "HEAD /streams HTTP/1.1\r\nHost: test\r\n\r\n"},
		{http.MethodHead, "HEAD /healthz HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n"},
		{http.MethodGet, "GET /streams HTTP/1.1\r\nHost: test\r\n\r\n"},
	} {
		for {
			c := dialFrom(t, b.addr, "127.0.0.2")
			if _, err := io.WriteString(c, tc.request); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a hang guard
			raw, _ := io.ReadAll(c.r)
			c.Close()
			head, content, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			if bytes.HasPrefix(head, []byte("HTTP/1.1 200")) {
				continue // the blocked request did not hold its place yet: served
			}
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 503")) {
				t.Fatalf("%q past the server's bound: %q; want 503", tc.request, raw)
			}
			if tc.method == http.MethodHead && len(content) > 0 {
				t.Errorf("%q past the server's bound: 503 with %d bytes of content after its headers (%q); want none, as to any HEAD", tc.request, len(content), content)
			}
			if tc.method == http.MethodGet && !bytes.Contains(content, []byte(`"status":503`)) {
				t.Errorf("%q past the server's bound: content %q; want the problem", tc.request, content)
			}
			break
		}
	}
}
