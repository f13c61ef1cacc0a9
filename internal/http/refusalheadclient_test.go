package http_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestARefusedHEADAtTheClientsBoundSaysItsLengthAndClosesAsAGETs: a HEAD
// refused at the per-client bound, pipelined with a GET behind it on the
// one connection, is answered one 503 without content whose Content-Length
// is the GET's problem's (what a GET would have been sent) and
// Connection: close, and nothing after it: the GET behind is not answered
// on that connection, and no stray byte is left to be read as a response.
// No store is involved.
func TestARefusedHEADAtTheClientsBoundSaysItsLengthAndClosesAsAGETs(t *testing.T) {
	t.Parallel()
	b := startBounded(t, 10, 1)
	dialFrom(t, b.addr, "127.0.0.1").send(t, "/block")
	refused := func(request string) (*http.Response, []byte, []byte) {
		t.Helper()
		for {
			c := dialFrom(t, b.addr, "127.0.0.1")
			if _, err := io.WriteString(c, request); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a hang guard
			r := bufio.NewReader(c)
			req, _ := http.ReadRequest(bufio.NewReader(strings.NewReader(request)))
			resp, err := http.ReadResponse(r, req)
			if err != nil {
				t.Fatalf("%q at the client's bound: %v", request, err)
			}
			body, _ := io.ReadAll(resp.Body)
			rest, _ := io.ReadAll(r)
			c.Close()
			if resp.StatusCode == http.StatusOK {
				continue // the blocked request did not hold its place yet: served
			}
			return resp, body, rest
		}
	}
	_, getBody, _ := refused("GET /streams HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, body, rest := refused("HEAD /streams HTTP/1.1\r\nHost: test\r\n\r\nGET /streams HTTP/1.1\r\nHost: test\r\n\r\n")
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close {
		t.Fatalf("HEAD at the client's bound: %d, close %v; want 503 with Connection: close", resp.StatusCode, resp.Close)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(getBody)) {
		t.Errorf("HEAD at the client's bound: Content-Length %q; want %d, the GET's problem's", cl, len(getBody))
	}
	if len(body) > 0 || len(rest) > 0 {
		t.Errorf("HEAD then GET at the client's bound: content %q, then %q; want nothing after the HEAD's headers", body, rest)
	}
}
