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
// answered on a connection the client goes on using, whether the body is
// gzip-compressed or not. A chunked request's connection is closed after
// its answer, whatever it is (request smuggling: see server.go), and the
// request sent behind it is never read. On both stores.
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
				// A chunked request's connection is closed after its answer.
				answeredOnItsConnection(t, srv.Listener.Addr().String(), what, "/streams/"+stream+"/events", headers, sent, tc.status, !framing.chunked)
			}
		}
	})
}

// answeredOnItsConnection sends an append with headers and the framed body
// sent, and expects status, the connection kept (a GET of /healthz sent
// after the answer on it is answered 200) or, if not kept, closed (a GET
// sent right behind the append is never read).
func answeredOnItsConnection(t *testing.T, addr, what, path, headers, sent string, status int, kept bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a test's bound
	behind := ""
	if !kept {
		behind = "GET /healthz?behind HTTP/1.1\r\nHost: x\r\n\r\n"
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%s\r\n%s%s", path, headers, sent, behind)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s: no answer: %v", what, err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Close == kept {
		want := "the connection kept"
		if !kept {
			want = "the connection closed"
		}
		t.Errorf("%s, its whole body sent: %d, Connection %q (%s); want %d, %s",
			what, resp.StatusCode, resp.Header.Get("Connection"), strings.TrimSpace(string(b)), status, want)
		return
	}
	if !kept {
		if resp, err := http.ReadResponse(br, nil); err == nil {
			resp.Body.Close()
			t.Errorf("%s: the request sent behind it on its connection was answered %d; want it never read", what, resp.StatusCode)
		}
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
