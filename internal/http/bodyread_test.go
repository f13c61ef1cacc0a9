package http_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAppendWhoseChunkedBodyCannotBeReadIsSaidToBeSo: a chunked body
// whose framing is broken (a chunk size too long, or not hexadecimal, a
// chunk not followed by its CRLF) was answered by the catch-all "invalid
// body: jsontext: read error: http chunk length too large", naming the JSON
// library, not what to fix, and not that nothing was written. It is a 400
// saying the body's chunked framing is malformed, how chunks are written,
// and that nothing was written, in the client's words, a gzip body's too;
// a chunked body cut short in a chunk is said to be cut short. On both
// stores.
func TestAnAppendWhoseChunkedBodyCannotBeReadIsSaidToBeSo(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{}))
		t.Cleanup(srv.Close)
		const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(body)) //nolint:errcheck // a bytes.Buffer
		zw.Close()
		for _, tc := range []struct {
			name, encoding, framing, body string
			halfClose                     bool   // the client closes its side after the body
			want                          string // in the detail
		}{
			{"a chunk size of 18 hex digits", "identity", "", "ffffffffffffffffff\r\n" + body + "\r\n0\r\n\r\n", false, "chunked framing"},
			{"a chunk size that is not hexadecimal", "identity", "", "zz\r\n" + body + "\r\n0\r\n\r\n", false, "chunked framing"},
			{"a chunk's data not followed by CRLF", "identity", "", fmt.Sprintf("%x\r\n%sXY0\r\n\r\n", len(body), body), false, "chunked framing"},
			{"an empty chunk size", "identity", "", "\r\n" + body + "\r\n0\r\n\r\n", false, "chunked framing"},
			{"a gzip body, its chunk size too long", "gzip", "", "ffffffffffffffffff\r\n" + gz.String() + "\r\n0\r\n\r\n", false, "chunked framing"},
			{"a gzip body, its second chunk's size not hexadecimal", "gzip", "", fmt.Sprintf("5\r\n%s\r\nzz\r\n%s\r\n0\r\n\r\n", gz.String()[:5], gz.String()[5:]), false, "chunked framing"},
			{"the connection ends in a chunk", "identity", "", fmt.Sprintf("%x\r\n%s", len(body)+20, body), true, "cut short"},
			// Not chunked: a whole object, then the connection ends before
			// the Content-Length; this too was "nothing after it".
			{"the connection ends before the Content-Length, after the object", "identity", fmt.Sprintf("Content-Length: %d\r\n", len(body)+20), body, true, "cut short"},
		} {
			stream := uuid.NewString()
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if tc.framing == "" {
				tc.framing = "Transfer-Encoding: chunked\r\n"
			}
			if _, err := io.WriteString(c, "POST /streams/"+stream+"/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
				"Content-Encoding: "+tc.encoding+"\r\n"+tc.framing+"\r\n"+tc.body); err != nil {
				t.Fatal(err)
			}
			if tc.halfClose {
				c.(*net.TCPConn).CloseWrite() //nolint:errcheck // the read below says what came of it
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hang guard, not a bound
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Errorf("%s: no answer (%v); want a 400", tc.name, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var p struct{ Type, Detail string }
			if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &p) != nil || p.Type != esthttp.ProblemBase+"bad-request" ||
				!strings.Contains(p.Detail, tc.want) || !strings.Contains(p.Detail, "nothing was written") ||
				strings.Contains(p.Detail, "jsontext") || strings.Contains(p.Detail, "invalid body") {
				t.Errorf("%s: %d %s; want a 400 bad-request whose detail says %q and that nothing was written, naming no library", tc.name, resp.StatusCode, b, tc.want)
			}
			resp, err = http.Get(srv.URL + "/streams/" + stream)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: the stream after it: %d; want 404, nothing written", tc.name, resp.StatusCode)
			}
		}
	})
}
