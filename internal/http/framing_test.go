package http_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
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

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestWhoseLengthIsSaidTwoWaysIsRefusedAndItsConnectionClosed: a
// request with both Content-Length and Transfer-Encoding: chunked was
// taken by its chunks (net/http deletes the Content-Length) and its
// connection kept, so that the bytes after the chunks, which a front end
// honouring Content-Length sent as part of its body, were served as
// another request (request smuggling, RFC 9112 6.3 (3)). Likewise an
// HTTP/1.0 request kept alive that says Transfer-Encoding, which net/http
// ignores (RFC 9112 6.1). Each is now a 400 problem with Connection: close,
// nothing written and nothing after it read; a chunked request with one
// length, alone or after others on its connection, keeps its connection.
// What net/http refuses itself (two codings, a coding not chunked, two
// different lengths) never reaches the handler, and closes too. On a
// raw connection to a server on the bounded listener, as the binary runs.
func TestARequestWhoseLengthIsSaidTwoWaysIsRefusedAndItsConnectionClosed(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	chunks := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	smuggled := "GET /healthz?smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	post := func(stream, proto, headers string) string {
		return "POST /streams/" + stream + "/events " + proto + "\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + "\r\n"
	}

	for _, tc := range []struct{ name, proto, headers string }{
		{"Content-Length then chunked", "HTTP/1.1", "Content-Length: 200\r\nTransfer-Encoding: chunked\r\n"},
		{"chunked then Content-Length", "HTTP/1.1", "Transfer-Encoding: chunked\r\nContent-Length: 200\r\n"},
		{"both, in lower case", "HTTP/1.1", "transfer-encoding: CHUNKED\r\ncontent-length: 200\r\n"},
		{"both, the length equal to the chunks'", "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n", len(chunks))},
		{"Transfer-Encoding on HTTP/1.0 kept alive", "HTTP/1.0", "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n", len(body))},
	} {
		stream := uuid.NewString()
		sent := post(stream, tc.proto, tc.headers) + chunks + smuggled
		if tc.proto == "HTTP/1.0" {
			sent = post(stream, tc.proto, tc.headers) + body + smuggled
		}
		answers, closed := exchangeAll(t, addr, sent)
		switch {
		case len(answers) == 0:
			t.Errorf("%s: no answer; want a 400 problem", tc.name)
		case answers[0].status != http.StatusBadRequest || answers[0].contentType != "application/problem+json" ||
			!strings.Contains(answers[0].body, "request smuggling"):
			t.Errorf("%s: %d %q %s; want a 400 problem that says why", tc.name, answers[0].status, answers[0].contentType, answers[0].body)
		case !answers[0].close:
			t.Errorf("%s: answered without Connection: close", tc.name)
		}
		if len(answers) > 1 || !closed {
			t.Errorf("%s: %d answers, connection closed %v; want one answer and the connection closed, the bytes after it never served (%v)",
				tc.name, len(answers), closed, answers)
		}
		requireNoStream(t, addr, stream, tc.name)
	}

	// What net/http refuses itself: its own answer, the connection closed.
	for _, tc := range []struct{ name, headers string }{
		{"chunked twice in one header", "Transfer-Encoding: chunked, chunked\r\n"},
		{"chunked in two headers", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"},
		{"identity", "Transfer-Encoding: identity\r\nContent-Length: 3\r\n"},
		{"two different lengths", "Content-Length: 3\r\nContent-Length: 4\r\n"},
		{"chunked folded onto a second line", "Transfer-Encoding:\r\n chunked\r\nContent-Length: 200\r\n"},
	} {
		stream := uuid.NewString()
		answers, closed := exchangeAll(t, addr, post(stream, "HTTP/1.1", tc.headers)+chunks+smuggled)
		if len(answers) != 1 || answers[0].status < 400 || !closed {
			t.Errorf("%s: %v, connection closed %v; want one refusal and the connection closed", tc.name, answers, closed)
		}
		requireNoStream(t, addr, stream, tc.name)
	}

	// One length, chunks: written, and the connection kept, also after an
	// append framed by Content-Length, and after a body that holds such a
	// request's lines (a gzip header's extra field: any bytes).
	first, second, third := uuid.NewString(), uuid.NewString(), uuid.NewString()
	fake := gzipWithExtra(t, body, "\r\n"+post(third, "HTTP/1.1", "Transfer-Encoding: chunked\r\n"))
	gzipped := func(stream, b string) string {
		return post(stream, "HTTP/1.1", fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n", len(b))) + b
	}
	sent := post(first, "HTTP/1.1", "Transfer-Encoding: chunked\r\n") + chunks +
		post(second, "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\n", len(body))) + body +
		gzipped(uuid.NewString(), fake) +
		post(third, "HTTP/1.1", "Transfer-Encoding: chunked\r\n") + chunks +
		"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	answers, _ := exchangeAll(t, addr, sent)
	want := []int{http.StatusCreated, http.StatusCreated, http.StatusCreated, http.StatusCreated, http.StatusOK}
	if len(answers) != len(want) {
		t.Fatalf("one length each, on one connection: %v; want %v", answers, want)
	}
	for i, a := range answers {
		if a.status != want[i] || (a.close && i < len(want)-1) {
			t.Errorf("one length each, on one connection: answer %d is %d, Connection: close %v (%s); want %d, the connection kept",
				i+1, a.status, a.close, a.body, want[i])
		}
	}

	// A body that holds the lines of the next request, as that request but
	// without its Content-Length: the request that says both is refused
	// all the same.
	fourth := uuid.NewString()
	fake = gzipWithExtra(t, body, "\r\n"+post(fourth, "HTTP/1.1", "Transfer-Encoding: chunked\r\n"))
	answers, closed := exchangeAll(t, addr, gzipped(uuid.NewString(), fake)+
		post(fourth, "HTTP/1.1", "Transfer-Encoding: chunked\r\nContent-Length: 200\r\n")+chunks+smuggled)
	if len(answers) != 2 || answers[0].status != http.StatusCreated || answers[1].status != http.StatusBadRequest || !closed {
		t.Errorf("a request that says both after a body that holds it without Content-Length: %v, connection closed %v; want 201, its 400, then the connection closed",
			answers, closed)
	}
	requireNoStream(t, addr, fourth, "after a body that holds it")
}

// gzipWithExtra returns body gzip-compressed with extra in its header.
func gzipWithExtra(t *testing.T, body, extra string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Extra = []byte(extra)
	if _, err := io.WriteString(zw, body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// startFramingServer starts a server as the binary runs one (a bounded
// listener, ConnContext) and returns its address.
func startFramingServer(t *testing.T) string {
	t.Helper()
	conns := esthttp.NewConnections(100, 100, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: esthttp.New(teststore.SQLite.Open(t), esthttp.Options{}), ConnState: conns.ConnState, ConnContext: esthttp.ConnContext}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawAnswer is one answer read from a raw connection.
type rawAnswer struct {
	status      int
	contentType string
	close       bool
	body        string
}

func (a rawAnswer) String() string { return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(a.body)) }

// exchangeAll writes sent on a new connection and reads answers until the
// server closes it (closed) or, a hang guard, none comes for 2 s.
func exchangeAll(t *testing.T, addr, sent string) (answers []rawAnswer, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, sent); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck // a hang guard
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			return answers, !(errors.As(err, &ne) && ne.Timeout())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answers = append(answers, rawAnswer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Close, string(b)})
	}
}

// requireNoStream requires that stream was not written.
func requireNoStream(t *testing.T, addr, stream, what string) {
	t.Helper()
	answers, _ := exchangeAll(t, addr, "GET /streams/"+stream+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if len(answers) != 1 || answers[0].status != http.StatusNotFound {
		t.Errorf("%s: the stream after it: %v; want 404, nothing written", what, answers)
	}
}
