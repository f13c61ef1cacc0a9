package http

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestWhoseFramingTheLogCannotTellIsNeverKeptAlive: the framing log
// keeps at most maxFramedBlocks blocks that said Transfer-Encoding, and it
// dropped the oldest for a newer one: the block of the request about to be
// served, when 8 more were read behind it in the same read (pipelined, or
// a gzip body's extra field). framingOf then said unknown, which closed a
// chunked request's connection but served it (a request saying both
// lengths, documented as a 400, was written), and an HTTP/1.0 request,
// never chunked to net/http, was served with its connection kept: the
// bytes after its Content-Length, which a front end going by its chunks
// sent as its body, were served as another request. The log now keeps the
// oldest blocks, those the next requests ask for, and drops a newer one:
// such a request is the 400 wherever its block was read. Where its block
// was truly dropped (8 unasked for were read before it, in an earlier
// body), the log cannot tell, and its connection is closed after its
// answer. Through Server.ServeHTTP, the log fed directly.
func TestARequestWhoseFramingTheLogCannotTellIsNeverKeptAlive(t *testing.T) {
	const (
		http10 = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
		http11 = "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 10\r\n\r\n0\r\n\r\n"
		plain  = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	)
	const block = "X /other HTTP/1.1\r\nTransfer-Encoding: x\r\nContent-Length: 1\r\n\r\n"
	other := strings.Repeat(block, maxFramedBlocks)
	more := other + block // one dropped, whichever it is
	s := New(teststore.SQLite.Open(t), Options{Logger: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		name, before, sent, after string
		want                      int // 400; 0: served, its connection closed; 200: served, kept
	}{
		{"HTTP/1.0 with Transfer-Encoding, its block alone", "", http10, "", http.StatusBadRequest},
		{"HTTP/1.0 with Transfer-Encoding, 8 blocks read behind it", "", http10, other, http.StatusBadRequest},
		{"HTTP/1.1 with both lengths, 8 blocks read behind it", "", http11, other, http.StatusBadRequest},
		{"HTTP/1.0 with Transfer-Encoding, 8 blocks unasked for read before it", other, http10, "", 0},
		{"HTTP/1.1 with both lengths, 8 blocks unasked for read before it", other, http11, "", 0},
		{"HTTP/1.0 without Transfer-Encoding, 9 blocks unasked for read before it", more, plain, "", 0},
		{"HTTP/1.0 without Transfer-Encoding, 8 blocks unasked for read before it (none dropped)", other, plain, "", http.StatusOK},
	} {
		var conn trackedConn
		conn.framing.read([]byte(tc.before + tc.sent + tc.after))
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.sent)))
		if err != nil {
			t.Fatal(err)
		}
		r = r.WithContext(context.WithValue(context.Background(), connKey{}, &conn))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch closed := w.Header().Get("Connection") == "close"; {
		case tc.want == http.StatusBadRequest && (w.Code != http.StatusBadRequest || !closed):
			t.Errorf("%s: %d, Connection %q; want the 400 of a length said two ways, Connection: close",
				tc.name, w.Code, w.Header().Get("Connection"))
		case tc.want == 0 && !closed:
			t.Errorf("%s: %d, Connection %q; want Connection: close (the log cannot tell its framing)",
				tc.name, w.Code, w.Header().Get("Connection"))
		case tc.want == http.StatusOK && (w.Code != http.StatusOK || closed):
			t.Errorf("%s: %d, Connection %q; want 200, its connection kept (the log dropped no block)",
				tc.name, w.Code, w.Header().Get("Connection"))
		}
	}
}
