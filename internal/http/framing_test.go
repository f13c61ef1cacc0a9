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

	// One length, chunks: written (not refused), also after an append
	// framed by Content-Length, and after a body that holds such a
	// request's lines (a gzip header's extra field: any bytes); the
	// connection is kept but after a chunked request, whose connection is
	// closed after its answer, the bytes behind it unread.
	first, second, third := uuid.NewString(), uuid.NewString(), uuid.NewString()
	fake := gzipWithExtra(t, body, "\r\n"+post(third, "HTTP/1.1", "Transfer-Encoding: chunked\r\n"))
	gzipped := func(stream, b string) string {
		return post(stream, "HTTP/1.1", fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n", len(b))) + b
	}
	behind := "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	for _, run := range []struct {
		name string
		sent string
		want []int
	}{
		{"a chunked append", post(first, "HTTP/1.1", "Transfer-Encoding: chunked\r\n") + chunks + behind, []int{http.StatusCreated}},
		{"one length each, on one connection", post(second, "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\n", len(body))) + body +
			gzipped(uuid.NewString(), fake) +
			post(third, "HTTP/1.1", "Transfer-Encoding: chunked\r\n") + chunks + behind,
			[]int{http.StatusCreated, http.StatusCreated, http.StatusCreated}},
	} {
		answers, _ := exchangeAll(t, addr, run.sent)
		if len(answers) != len(run.want) {
			t.Fatalf("%s: %v; want %v, and nothing after the chunked one", run.name, answers, run.want)
		}
		for i, a := range answers {
			if a.status != run.want[i] || a.close != (i == len(run.want)-1) {
				t.Errorf("%s: answer %d is %d, Connection: close %v (%s); want %d, the connection closed after the chunked one only",
					run.name, i+1, a.status, a.close, a.body, run.want[i])
			}
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
	return startFramingServerLogging(t, slog.New(slog.DiscardHandler))
}

// startFramingServerLogging is startFramingServer, its server logging to log.
func startFramingServerLogging(t *testing.T, log *slog.Logger) string {
	t.Helper()
	conns := esthttp.NewConnections(100, 100, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Logger: log}), ConnState: conns.ConnState, ConnContext: esthttp.ConnContext}
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
// server closes it (closed) or no more come. Every wait that ends at once
// when the test passes is a generous hang guard (answerGuard): for the
// first answer, for the rest of an answer begun, and for the close after
// an answer that says Connection: close. Only after an answer that keeps
// the connection does it wait for a next one to begin for a while
// (keptQuiet), whose end says none is coming: a test that expects the
// connection kept pays it, however long it is.
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
		wait := answerGuard
		if len(answers) > 0 && !answers[len(answers)-1].close {
			wait = keptQuiet
		}
		c.SetReadDeadline(time.Now().Add(wait)) //nolint:errcheck // see wait
		if _, err := br.Peek(1); err != nil {
			var ne net.Error
			return answers, !(errors.As(err, &ne) && ne.Timeout())
		}
		c.SetReadDeadline(time.Now().Add(answerGuard)) //nolint:errcheck // a hang guard: the answer has begun
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

// keptQuiet is how long exchangeAll waits for an answer to begin after
// one that kept the connection: a test that expects the connection kept
// waits it out. The answers pipelined behind a request are written as
// each is served, one after another, which takes far less.
const keptQuiet = 2 * time.Second

// requireNoStream requires that stream was not written.
func requireNoStream(t *testing.T, addr, stream, what string) {
	t.Helper()
	answers, _ := exchangeAll(t, addr, "GET /streams/"+stream+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if len(answers) != 1 || answers[0].status != http.StatusNotFound {
		t.Errorf("%s: the stream after it: %v; want 404, nothing written", what, answers)
	}
}

// TestALineThatEndsAsARequestLineHidesNoLengthSaidTwoWays: the log took
// any line ending as a request line (" HTTP/1.x") for one, a header line
// inside a block too, and began a new block there: a header whose value
// ended with the request's own request line (or a folded line that did)
// made the log forget the Content-Length before it, and a request saying
// both was taken by its chunks, its connection kept, the bytes after them
// served as another request; on HTTP/1.0 any value ending " HTTP/1.0"
// after Transfer-Encoding did the same. Inside a block a line begins
// another only if it begins as a request line; one that only ends as one
// is counted both ways, so a request line after a body's last line (no
// line end) still begins its block. Each is one 400 and a closed
// connection; what net/http refuses itself closes too.
func TestALineThatEndsAsARequestLineHidesNoLengthSaidTwoWays(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	chunks := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	smuggled := "GET /healthz?smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	line := func(stream, proto string) string { return "POST /streams/" + stream + "/events " + proto }

	for _, tc := range []struct {
		name, proto string
		headers     func(line string) string // the headers after Host
		refusedBy   string                   // "" for this server's 400, else net/http's
	}{
		{"a header's value ends with the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX-Note: " + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, ""},
		{"the same, lines ending in LF alone", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\nX-Note: " + l + "\nTransfer-Encoding: chunked\n"
		}, ""},
		{"a folded line (space) is the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX-Note: a\r\n " + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, ""},
		{"a folded line (tab) is the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX-Note: a\r\n\t" + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, ""},
		{"a long header name, the value the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX-A-Rather-Long-Header-Name: " + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, ""},
		{"HTTP/1.0 kept alive, a value ending HTTP/1.0 after Transfer-Encoding", "HTTP/1.0", func(string) string {
			return "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nX-Note: see HTTP/1.0\r\n" +
				fmt.Sprintf("Content-Length: %d\r\n", len(body))
		}, ""},
		{"a name with a space, the value the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX Note: " + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, "net/http"},
		{"a CR alone in a value before the request line", "HTTP/1.1", func(l string) string {
			return "Content-Length: 200\r\nX-Note: a\r" + l + "\r\nTransfer-Encoding: chunked\r\n"
		}, "net/http"},
	} {
		stream := uuid.NewString()
		l := line(stream, tc.proto)
		sent := l + "\r\nHost: x\r\nContent-Type: application/json\r\n" + tc.headers(l) + "\r\n" + chunks + smuggled
		if tc.proto == "HTTP/1.0" {
			sent = l + "\r\nHost: x\r\nContent-Type: application/json\r\n" + tc.headers(l) + "\r\n" + body + smuggled
		}
		answers, closed := exchangeAll(t, addr, sent)
		switch {
		case len(answers) != 1 || !closed:
			t.Errorf("%s: %v, connection closed %v; want one 400 and the connection closed, the bytes after it never served",
				tc.name, answers, closed)
		case tc.refusedBy == "" && (answers[0].status != http.StatusBadRequest || !strings.Contains(answers[0].body, "request smuggling")):
			t.Errorf("%s: %v; want this server's 400 that says why", tc.name, answers[0])
		case answers[0].status != http.StatusBadRequest:
			t.Errorf("%s: %v; want %s's 400", tc.name, answers[0], tc.refusedBy)
		}
		requireNoStream(t, addr, stream, tc.name)
	}

	// A body that holds a block as the next request's, chunked alone, then
	// another begun and not ended, its last line with no line end (a gzip
	// header's extra field, then the compressed bytes, none a line end):
	// the next request's line is read as the end of that line, inside a
	// block. It says both: refused all the same.
	stream := uuid.NewString()
	extra := "\r\n" + line(stream, "HTTP/1.1") + "\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"POST /elsewhere HTTP/1.1\r\nX-Note:open"
	fake := gzipWithExtra(t, body, extra)
	if end := strings.Index(fake, extra) + len(extra); strings.LastIndexByte(fake, '\n') >= end {
		t.Fatalf("the gzip body holds a line end after its extra field: the case is not made")
	}
	first := "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(fake)) + fake
	answers, closed := exchangeAll(t, addr, first+line(stream, "HTTP/1.1")+
		"\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks+smuggled)
	if len(answers) != 2 || answers[1].status != http.StatusBadRequest || !strings.Contains(answers[1].body, "request smuggling") || !closed {
		t.Errorf("a request that says both after a body whose last line has no line end: %v, connection closed %v; "+
			"want the body's answer, the request's 400, then the connection closed", answers, closed)
	}
	requireNoStream(t, addr, stream, "after a body whose last line has no line end")
}

// TestAChunkedRequestAfterABodyWithNoLineEndIsServed: a JSON body ends
// with no line end, so the log reads the next request line as the end of
// the body's last line, whose first bytes are the body's. Outside a header
// block that line still begins one: the chunked request after it is found,
// plain, and served (not refused as saying its length two ways); its
// connection is closed after its answer, as every chunked request's is, so
// the request behind it is never read.
func TestAChunkedRequestAfterABodyWithNoLineEndIsServed(t *testing.T) {
	t.Parallel()
	addr := startFramingServer(t)
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	first := "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
	second := "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	answers, _ := exchangeAll(t, addr, first+second+"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	want := []int{http.StatusCreated, http.StatusCreated}
	if len(answers) != len(want) {
		t.Fatalf("%v; want %v on one connection, and nothing after the chunked one", answers, want)
	}
	for i, a := range answers {
		if a.status != want[i] || a.close != (i == 1) {
			t.Errorf("answer %d is %v, Connection: close %v; want %d, the connection closed after the chunked one only", i+1, a, a.close, want[i])
		}
	}
}
