package http

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestTheFramingLogFindsABlockHoweverItsBytesAreRead: the lines of a
// header block are found whatever the reads cut them into (a byte at a
// time, a line's end in the next read), and a log that dropped a block is
// lost: a chunked request on it is then unknown (closed), never plain.
// So too a header line that ends as the request line, a folded one, and a
// request line read as the end of the line of a body before it (before).
func TestTheFramingLogFindsABlockHoweverItsBytesAreRead(t *testing.T) {
	const both = "POST /streams/x/events HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\nTransfer-Encoding: chunked\r\n\r\n"
	const chunked = "POST /streams/x/events HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n"
	const asLine = "POST /streams/x/events HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n" +
		"X-Note: POST /streams/x/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	const folded = "POST /streams/x/events HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\nX-Note: a\r\n" +
		" POST /streams/x/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name, before, sent string
		want               framing
	}{
		{"both", "", both, framingAmbiguous},
		{"chunked", "", chunked, framingPlain},
		{"both, a value the request line", "", asLine, framingAmbiguous},
		{"both, a folded line the request line", "", folded, framingAmbiguous},
		{"chunked after a body with no line end", `{"a":1}`, chunked, framingPlain},
		{"both after a body's block with no line end", "\r\nPOST /elsewhere HTTP/1.1\r\nX:open", both, framingAmbiguous},
	} {
		for _, size := range []int{1, 2, 3, 7, 19, 300} {
			var tc2 trackedConn
			for rest := tc.before + tc.sent; rest != ""; {
				n := min(size, len(rest))
				tc2.framing.read([]byte(rest[:n]))
				rest = rest[n:]
			}
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tc.sent)))
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(context.Background(), connKey{}, &tc2))
			if got := framingOf(r); got != tc.want {
				t.Errorf("%s, read %d bytes at a time: %d; want %d", tc.name, size, got, tc.want)
			}
		}
	}

	var lost trackedConn
	for range maxFramedBlocks + 1 {
		lost.framing.read([]byte(strings.Replace(chunked, "/x/", "/other/", 1)))
	}
	lost.framing.read([]byte(chunked))
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(chunked)))
	if err != nil {
		t.Fatal(err)
	}
	if got := framingOf(r.WithContext(context.WithValue(context.Background(), connKey{}, &lost))); got != framingUnknown {
		t.Errorf("a chunked request on a log that dropped a block: %d; want unknown (%d)", got, framingUnknown)
	}

	// More lines counted both ways in one block than are read at once:
	// lost too.
	var many trackedConn
	notes := strings.Repeat("X-Note: see HTTP/1.1\n", maxOpenBlocks)
	many.framing.read([]byte(strings.Replace(chunked, "Host: x\n", "Host: x\n"+notes, 1)))
	if got := framingOf(r.WithContext(context.WithValue(context.Background(), connKey{}, &many))); got != framingUnknown {
		t.Errorf("a chunked request whose block held %d lines ending as request lines: %d; want unknown (%d)", maxOpenBlocks, got, framingUnknown)
	}
}
