package http_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestALengthInAnotherSpellingClosesTheConnectionOfEveryKindOfRequest: a
// length said in another spelling (Content_Length, Transfer_Encoding)
// closes the connection after the answer whatever else the request is: an
// HTTP/1.0 request asking to be kept alive, an append that waits for 100
// Continue before its body, a HEAD (its answer read raw); an HTTP/1.0 request kept alive with no
// such line keeps its connection. On a raw connection to a server on the
// bounded listener, as the binary runs.
func TestALengthInAnotherSpellingClosesTheConnectionOfEveryKindOfRequest(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	smuggled := "GET /streams/" + uuid.NewString() + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct {
		name, sent string
		status     []int // the answers before the connection's end
	}{
		{"HTTP/1.0 kept alive with Content_Length",
			"GET /events HTTP/1.0\r\nConnection: keep-alive\r\nContent_Length: 5\r\n\r\n", []int{http.StatusOK}},
		{"an append with Expect: 100-continue and Transfer_Encoding",
			"POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n" +
				fmt.Sprintf("Transfer_Encoding: chunked\r\nContent-Length: %d\r\n\r\n", len(body)) + body,
			[]int{http.StatusContinue, http.StatusCreated}},
		{"HTTP/1.0 kept alive", "GET /events HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []int{http.StatusOK, http.StatusNotFound}},
	} {
		answers, closed := exchangeAll(t, addr, tc.sent+smuggled)
		var got []int
		for _, a := range answers {
			got = append(got, a.status)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.status) || !closed || !answers[len(answers)-1].close {
			t.Errorf("%s: answers %v (%v), connection closed %v; want %v, the last with Connection: close, then the connection's end",
				tc.name, got, answers, closed, tc.status)
		}
	}

	// A HEAD's answer has no body for http.ReadResponse to find the end
	// of: its bytes are read raw, up to the connection's end.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "HEAD /events HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n"+smuggled); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	sent, err := io.ReadAll(c)
	if err != nil || strings.Count(string(sent), "HTTP/1.1 ") != 1 || !strings.HasPrefix(string(sent), "HTTP/1.1 200 ") ||
		!strings.Contains(string(sent), "\r\nConnection: close\r\n") {
		t.Errorf("a HEAD with Content_Length: %q, %v; want one 200 with Connection: close, then the connection's end", sent, err)
	}
}
