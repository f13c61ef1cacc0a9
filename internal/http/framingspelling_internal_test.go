package http

import (
	"strings"
	"testing"
)

// TestTheFramingLogFindsALengthInAnotherSpellingHoweverItsBytesAreRead:
// a Content_Length, a Transfer_Encoding or a folded line in a header
// block marks the connection (otherSpelling) whatever the reads cut the
// block into, a byte at a time or at the edge of net/http's 4 KiB buffer,
// after a block of hundreds of KiB too; a body's line is no header: one
// that says Content_Length after the blank line does not mark it, unless
// a line ending as a request line came before it in the body (the log
// follows lines, not net/http's framing: it closes that connection after
// its answer, never keeps one it should not).
func TestTheFramingLogFindsALengthInAnotherSpellingHoweverItsBytesAreRead(t *testing.T) {
	const line = "POST /streams/x/events HTTP/1.1\r\nHost: x\r\n"
	for _, tc := range []struct {
		name, sent string
		marked     bool
	}{
		{"Content_Length", line + "Content_Length: 5\r\n\r\n", true},
		{"transfer_encoding", line + "transfer_encoding: chunked\r\n\r\n", true},
		{"a folded line", line + "X-A: b\r\n\tContent-Length: 5\r\n\r\n", true},
		{"after a large block", line + "X-Pad: " + strings.Repeat("a", 900<<10) + "\r\nCONTENT_LENGTH: 5\n\n", true},
		{"at the 4 KiB edge", line + "X-Pad: " + strings.Repeat("a", 4096-len(line)-len("X-Pad: \r\n")-7) + "\r\nContent_Length: 5\r\n\r\n", true},
		{"an ordinary block", line + "X_Note: Content_Length\r\nContent-Length: 40\r\n\r\n", false},
		{"in a body", line + "Content-Length: 40\r\n\r\nabc\r\nContent_Length: 5\r\n X: y\r\n", false},
		{"in a body after a line ending as a request line", line + "Content-Length: 40\r\n\r\nnot GET / HTTP/1.1\r\nContent_Length: 5\r\n", true},
	} {
		for _, size := range []int{1, 2, 7, 4096, len(tc.sent)} {
			var f framingLog
			for rest := tc.sent; rest != ""; {
				n := min(size, len(rest))
				f.read([]byte(rest[:n]))
				rest = rest[n:]
			}
			if got := f.otherSpelling.Load(); got != tc.marked {
				t.Errorf("%s, read %d bytes at a time: marked %v; want %v", tc.name, size, got, tc.marked)
			}
		}
	}
}
