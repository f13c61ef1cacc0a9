package http_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
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

// TestAnAppendWhoseBodyIsStillComingIsAnsweredByACut: a request that
// comes after the stop's cut (Cut), on a connection the server has not
// closed yet (a second signal in the shutdown delay cuts before Shutdown
// closes the listeners), had its context ended but not the read of its
// body: an append whose client sends slowly waited for its body until the
// connection closed under it, and got no answer. Its read is ended too,
// and it is answered 503 with Retry-After, saying the server is stopping
// and that it was not written; a gzip body's too. (An append whose body is coming when the
// cut comes is cmd/api's TestAnAppendStillSendingItsBodyAtTheStopsCutIsAnswered503.)
// The request's time is a minute: only the cut can end the read before the
// client's wait for an answer. On both stores.
func TestAnAppendWhoseBodyIsStillComingIsAnsweredByACut(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		h := esthttp.New(store, esthttp.Options{RequestTimeout: time.Minute})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		h.Cut()
		// Half of a gzip body: its decompressing read must end too.
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(`{"stream_type":"t","events":[{"type":"Slow","data":{"pad":"` + strings.Repeat("x", 1<<16) + `"}}]}`)) //nolint:errcheck
		zw.Close()
		for _, body := range []struct{ encoding, half string }{
			{"identity", `{"stream_type":"t","events":[{"type":"Slow","data":{"pad":"`},
			{"gzip", gz.String()[:gz.Len()/2]},
		} {
			appendCutWhileItsBodyComes(t, srv.Listener.Addr().String(), body.encoding, body.half)
		}
	})
}

// appendCutWhileItsBodyComes sends an append's headers and half, the first half
// of a body of Content-Encoding encoding to addr, whose server has been
// cut, and expects it answered 503, as TestAnAppendWhoseBodyIsStillComingIsAnsweredByACut says.
func appendCutWhileItsBodyComes(t *testing.T, addr, encoding, half string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	id := uuid.New()
	if _, err := conn.Write([]byte("POST /streams/" + id.String() + "/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
		"Content-Encoding: " + encoding + "\r\nContent-Length: " + strconv.Itoa(2*len(half)) + "\r\n\r\n" + half)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang fails, not blocks, the test
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("an append whose %s body is still coming, after the cut: no answer (%v); want a 503 with Retry-After", encoding, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var p struct{ Detail string }
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		json.Unmarshal(b, &p) != nil || !strings.Contains(p.Detail, "stopping") || !strings.Contains(p.Detail, "not written") {
		t.Errorf("an append whose %s body is still coming, after the cut: %d, Retry-After %q, %s; want a 503 with Retry-After saying the server is stopping and the append was not written",
			encoding, resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}
