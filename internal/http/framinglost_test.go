package http_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestARequestSayingItsLengthTwoWaysIsRefusedWhateverIsReadBehindIt: the
// framing log kept at most 8 blocks that said Transfer-Encoding and dropped
// the oldest for a newer one, and a log that dropped one answered "cannot
// tell", acted on only for a chunked request. So 8 more blocks read behind
// a request in the same read (two pipelined requests whose header lines end
// " HTTP/1.1", each counted both ways; or a gzip body's extra field) made
// an HTTP/1.0 request kept alive that says Transfer-Encoding and
// Content-Length be served, written, its connection kept and the bytes
// after its Content-Length served as another request; and an HTTP/1.1
// request saying both lengths be written (closed) instead of refused. Each
// is now the 400, its connection closed, nothing written nor served after
// it. On a raw connection to a server on the bounded listener.
func TestARequestSayingItsLengthTwoWaysIsRefusedWhateverIsReadBehindIt(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	post := func(stream, proto, headers string) string {
		return "POST /streams/" + stream + "/events " + proto + "\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n"
	}
	// Four blocks each: its own, and one at each line ending " HTTP/1.1".
	padded := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nX-1: a HTTP/1.1\r\nX-2: a HTTP/1.1\r\nX-3: a HTTP/1.1\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	}
	behind := padded("/healthz?smuggled") + padded("/healthz?smuggled2")
	var extra strings.Builder
	extra.WriteString("\r\n")
	for i := range 8 {
		fmt.Fprintf(&extra, "X /f%d HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n", i)
	}
	gz := gzipWithExtra(t, body, extra.String())

	for _, tc := range []struct {
		name string
		sent func(stream string) string
	}{
		{"HTTP/1.0 with Transfer-Encoding and Content-Length, 8 blocks pipelined behind it", func(stream string) string {
			return post(stream, "HTTP/1.0", "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n"+
				fmt.Sprintf("Content-Length: %d\r\n", len(body))) + body + behind
		}},
		{"HTTP/1.0 with Transfer-Encoding and Content-Length, 8 blocks in its gzip body", func(stream string) string {
			return post(stream, "HTTP/1.0", "Connection: keep-alive\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"+
				fmt.Sprintf("Content-Length: %d\r\n", len(gz))) + gz + "GET /healthz?smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		}},
		{"HTTP/1.1 with both lengths, 8 blocks pipelined behind it", func(stream string) string {
			return post(stream, "HTTP/1.1", "Content-Length: 300\r\nTransfer-Encoding: chunked\r\n") +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) + behind
		}},
	} {
		stream := uuid.NewString()
		answers, closed := exchangeAll(t, addr, tc.sent(stream))
		if len(answers) != 1 || answers[0].status != http.StatusBadRequest || !strings.Contains(answers[0].body, "request smuggling") ||
			!answers[0].close || !closed {
			t.Errorf("%s: %v, connection closed %v; want one 400 that says why, with Connection: close, the connection closed, "+
				"nothing after it served", tc.name, answers, closed)
		}
		requireNoStream(t, addr, stream, tc.name)
	}
}

// TestARequestWhoseFramingTheLogLostIsServedAndItsConnectionClosed: where
// the log truly dropped a request's block (8 unasked for were read before
// it, in an earlier body on its connection), it cannot tell whether the
// request said its length two ways. An HTTP/1.0 request kept alive was
// then served and its connection kept, the bytes after its Content-Length
// served as another request. It is served, with Connection: close, and
// nothing after it is read.
func TestARequestWhoseFramingTheLogLostIsServedAndItsConnectionClosed(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	var extra strings.Builder
	extra.WriteString("\r\n")
	for i := range 9 {
		fmt.Fprintf(&extra, "X /f%d HTTP/1.1\r\nTransfer-Encoding: x\r\nContent-Length: 1\r\n\r\n", i)
	}
	gz := gzipWithExtra(t, body, extra.String())
	first := "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(gz)) + gz
	second := "POST /streams/" + uuid.NewString() + "/events HTTP/1.0\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n", len(body)) + body
	answers, closed := exchangeAll(t, addr, first+second+"GET /healthz?smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if len(answers) != 2 || answers[0].status != http.StatusCreated || answers[0].close || !answers[1].close || !closed {
		t.Errorf("%v, connection closed %v; want the gzip append's 201 on a kept connection, then the HTTP/1.0 request's answer "+
			"with Connection: close, the connection closed, nothing after it served", answers, closed)
	}
}

// TestATargetRefusalClosesAnHTTP10RequestThatSaysTransferEncoding:
// requestTarget refused a host:port target (and CONNECT) before it looked
// at the request's framing: an HTTP/1.0 request kept alive that says
// Transfer-Encoding (and Content-Length: 0, or none) was answered its 400
// with its connection kept, and the bytes after it, which a front end
// framing it by its chunks sent as its body, served as a request. Each is
// now the 400 of its framing, with Connection: close, nothing after it read.
func TestATargetRefusalClosesAnHTTP10RequestThatSaysTransferEncoding(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const behind = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	for _, line := range []string{"GET /healthz", "GET x:1", "POST x:1", "CONNECT x:1"} {
		for _, length := range []string{"Content-Length: 0\r\n", ""} {
			sent := line + " HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n" + length + "\r\n" + behind
			answers, closed := exchangeAll(t, addr, sent)
			if len(answers) != 1 || answers[0].status != http.StatusBadRequest || !answers[0].close || !closed {
				t.Errorf("%s, %q: %v, connection closed %v; want one 400 with Connection: close, nothing after it served",
					line, length, answers, closed)
			}
		}
	}
}
