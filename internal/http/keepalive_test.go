package http_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARefusalAfterTheWholeBodyWasReadKeepsTheConnection: a refused
// request whose body is still coming is answered with Connection: close
// (closeUnread); one whose body the server read to its end must not be: a
// 409 of a wrong expected version, a 400 of an event the decoder took but
// validation did not, a 413 of a batch past the limit read whole, are
// answered on a connection the client goes on using. Whatever frames the
// body: a Content-Length or chunks, as it is or gzip-compressed. On both
// stores.
func TestARefusalAfterTheWholeBodyWasReadKeepsTheConnection(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBatch: 2}))
		t.Cleanup(srv.Close)
		stream := uuid.NewString()
		event := `{"type":"A","data":{"n":1}}`
		created := `{"stream_type":"order","events":[` + event + `]}`
		for _, tc := range []struct {
			name, headers, body string
			status              int
		}{
			{"the first append", `If-None-Match: *` + "\r\n", created, http.StatusCreated},
			{"a wrong expected version", `If-Match: "7"` + "\r\n", created, http.StatusConflict},
			{"another stream type", "", `{"stream_type":"other","events":[` + event + `]}`, http.StatusConflict},
			{"no events", "", `{"stream_type":"order","events":[]}`, http.StatusBadRequest},
			{"a batch past the limit", "", `{"events":[` + event + "," + event + "," + event + `]}`, http.StatusRequestEntityTooLarge},
		} {
			for _, framing := range []struct {
				name    string
				chunked bool
				gzip    bool
			}{{"Content-Length", false, false}, {"chunked", true, false}, {"gzip, Content-Length", false, true}, {"gzip, chunked", true, true}} {
				what := fmt.Sprintf("%s (%s)", tc.name, framing.name)
				if tc.status == http.StatusCreated && (framing.chunked || framing.gzip) {
					continue // once is enough
				}
				body := []byte(tc.body)
				headers := "Content-Type: application/json\r\n" + tc.headers
				if framing.gzip {
					var b bytes.Buffer
					zw := gzip.NewWriter(&b)
					zw.Write(body) //nolint:errcheck // to memory
					zw.Close()     //nolint:errcheck // to memory
					body = b.Bytes()
					headers += "Content-Encoding: gzip\r\n"
				}
				sent := string(body)
				if framing.chunked {
					headers += "Transfer-Encoding: chunked\r\n"
					half := len(body) / 2
					sent = strconv.FormatInt(int64(half), 16) + "\r\n" + string(body[:half]) + "\r\n" +
						strconv.FormatInt(int64(len(body)-half), 16) + "\r\n" + string(body[half:]) + "\r\n0\r\n\r\n"
				} else {
					headers += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
				}
				if framing.chunked {
					// A chunked request's connection is closed after its
					// answer (TestAChunkedRequestsConnectionIsClosedAfterItsAnswer).
					answeredAndClosed(t, srv.Listener.Addr().String(), what, "/streams/"+stream+"/events", headers, sent, tc.status)
					continue
				}
				answeredOnOneConnection(t, srv.Listener.Addr().String(), what, "/streams/"+stream+"/events", headers, sent, tc.status)
			}
		}
	})
}

// answeredOnOneConnection sends an append with headers and the framed
// body sent, expects status without Connection: close, and then a GET of
// /healthz on the same connection answered 200.
func answeredOnOneConnection(t *testing.T, addr, what, path, headers, sent string, status int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a test's bound
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n%s", path, headers, sent)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s: no answer: %v", what, err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Close {
		t.Errorf("%s, its whole body sent: %d, Connection %q (%s); want %d, the connection kept",
			what, resp.StatusCode, resp.Header.Get("Connection"), strings.TrimSpace(string(b)), status)
		return
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s: the next request on its connection: %v; want it answered", what, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: the next request on its connection: %d; want 200", what, resp.StatusCode)
	}
}

// answeredAndClosed sends an append with headers and the framed body sent,
// then a request right behind it on the same connection, and expects the
// append answered status with Connection: close, and nothing more: the
// request behind it never read.
func answeredAndClosed(t *testing.T, addr, what, path, headers, sent string, status int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a test's bound
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n%sGET /healthz?behind HTTP/1.1\r\nHost: x\r\n\r\n", path, headers, sent)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s: no answer: %v", what, err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || !resp.Close {
		t.Errorf("%s, its whole body sent: %d, Connection %q (%s); want %d, the connection closed",
			what, resp.StatusCode, resp.Header.Get("Connection"), strings.TrimSpace(string(b)), status)
		return
	}
	if resp, err := http.ReadResponse(br, nil); err == nil {
		resp.Body.Close()
		t.Errorf("%s: the request sent behind it on its connection was answered %d; want it never read", what, resp.StatusCode)
	}
}
