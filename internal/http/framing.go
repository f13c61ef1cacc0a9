package http

import (
	"bytes"
	"net/http"
	"sync"
	"sync/atomic"
)

// framingLog notes, from the bytes a connection reads, the header blocks
// that said Transfer-Encoding, and whether each also said Content-Length.
// net/http takes such a request by its chunks, deletes the Content-Length
// and keeps the connection (go1.26 transfer.go, fixLength): a front end that
// took it by its Content-Length instead sent the bytes after the chunks as
// part of its body, and this server read them as another request (request
// smuggling). RFC 9112 6.3 (3) says to close the connection after such a
// request, and 6.1 the same of an HTTP/1.0 request that says
// Transfer-Encoding, which net/http ignores, framing it by its
// Content-Length. The handler sees neither header (framingOf), so the
// connection's reads note them here; and whether a block said a length in
// a spelling net/http does not read as one but a front end may
// (otherSpelling), after which no request on the connection is kept.
//
// It follows lines, not net/http's framing: a line ending as a request
// line does (" HTTP/1.x") begins a header block, and a blank line ends it.
// Inside a block, a line that ends so but does not begin as a request
// line (a method, then a space: a header line has a ':' before any space,
// a folded one begins with a space or tab) may be a header whose value
// ends so, or a request line after a body's last line with no line end:
// it is counted both ways, the block going on and another begun at it.
// A body that holds such lines can only make a later request on its
// connection with the same request line look ambiguous (a 400; behind a
// front end that shares connections, another client's whose request line
// it guessed), never an ambiguous one plain (framingOf counts every block
// kept), or, where a line after such a line says a length in another
// spelling or begins with a space or tab (otherSpelling), close the
// connection after the answer of the request being read (a JSON body
// cannot: no line of it ends so outside a string, and its strings hold no
// line end); a request whose block cannot be found, or one on a connection
// whose log dropped a block, a chunked one or one of HTTP/1.0, is closed
// after its answer (framingUnknown): the log cannot tell, and never keeps
// a connection it cannot tell of. Reads are net/http's, one at a time; mu
// guards what the handler asks for.
type framingLog struct {
	// Of the line being read: its length so far, its first bytes (enough
	// for a header's name) and its last (enough for a request line's end).
	lineLen int
	head    [len("transfer-encoding:")]byte
	tail    [maxRequestLineTail]byte
	tailLen int
	// The header blocks being read: none between blocks, one once a
	// request line began it, more where a line is counted both ways.
	open []openBlock

	// otherSpelling is set once a block said a length in a spelling
	// net/http does not read as one (otherSpelling): every request on the
	// connection is then closed after its answer. Atomic: the handler's
	// one cheap look on the hot path.
	otherSpelling atomic.Bool

	mu     sync.Mutex
	blocks []framedBlock // those that said Transfer-Encoding, not yet asked for, oldest first
	// lost is set once a block was dropped (more than maxFramedBlocks
	// unasked for, or more than maxOpenBlocks at once): it may be the one
	// a request asks for.
	lost bool
}

// openBlock is a header block being read.
type openBlock struct {
	line   []byte // the end of its request line
	te, cl bool   // it said Transfer-Encoding, Content-Length
}

// framedBlock is a header block that said Transfer-Encoding.
type framedBlock struct {
	line          []byte // the end of its request line
	contentLength bool   // it said Content-Length too
}

const (
	// maxRequestLineTail is how much of a request line's end is kept to
	// find its block again: the method, path and query of most requests,
	// and the end of the others.
	maxRequestLineTail = 256
	// maxFramedBlocks is how many blocks that said Transfer-Encoding are
	// kept, unasked for: the requests net/http has read ahead (pipelined).
	maxFramedBlocks = 8
	// maxOpenBlocks is how many header blocks are read at once, one line
	// counted both ways after another: beyond it, the log is lost.
	maxOpenBlocks = 4
)

// read notes the header blocks in p, the next bytes of the connection.
// Most bodies hold few line ends: it looks at each line's first and last
// bytes only.
func (f *framingLog) read(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if f.lineLen < len(f.head) {
			copy(f.head[f.lineLen:], seg)
		}
		f.lineLen += len(seg)
		f.keepTail(seg)
		if i < 0 {
			return
		}
		f.endLine()
		p = p[i+1:]
	}
}

// keepTail keeps the last bytes of the line being read, seg its next bytes.
func (f *framingLog) keepTail(seg []byte) {
	if len(seg) >= len(f.tail) {
		f.tailLen = copy(f.tail[:], seg[len(seg)-len(f.tail):])
		return
	}
	if f.tailLen+len(seg) > len(f.tail) {
		drop := f.tailLen + len(seg) - len(f.tail)
		copy(f.tail[:], f.tail[drop:f.tailLen])
		f.tailLen -= drop
	}
	f.tailLen += copy(f.tail[f.tailLen:], seg)
}

// endLine takes the line just read, its '\n' cut off.
func (f *framingLog) endLine() {
	tail := bytes.TrimSuffix(f.tail[:f.tailLen], []byte("\r"))
	n := f.lineLen
	if n > 0 && f.tailLen > 0 && f.tail[f.tailLen-1] == '\r' {
		n--
	}
	head := f.head[:min(n, len(f.head))]
	f.lineLen, f.tailLen = 0, 0
	switch {
	case n == 0: // a blank line ends the header blocks
		if len(f.open) == 0 {
			return
		}
		f.mu.Lock()
		for _, b := range f.open {
			if !b.te {
				continue
			}
			if len(f.blocks) == maxFramedBlocks {
				// The newest is dropped, not the oldest: requests are
				// served in order, and the oldest kept is the one the
				// next asks for. Dropping it let 8 blocks read behind a
				// request (pipelined, or in its own gzip body) hide it.
				f.lost = true
				continue
			}
			f.blocks = append(f.blocks, framedBlock{line: bytes.Clone(b.line), contentLength: b.cl})
		}
		f.mu.Unlock()
		f.open = f.open[:0]
	case !requestLineEnd(tail):
		f.header(head)
	case len(f.open) == 0 || startsAsRequestLine(head):
		f.open = f.open[:0]
		f.begin(tail)
	default: // a header, or a request line after a body's last line
		f.header(head)
		if len(f.open) == maxOpenBlocks {
			f.mu.Lock()
			f.lost = true
			f.mu.Unlock()
			return
		}
		f.begin(tail)
	}
}

// begin begins a header block at a request line, line its end.
func (f *framingLog) begin(line []byte) {
	if len(f.open) < cap(f.open) {
		f.open = f.open[:len(f.open)+1]
	} else {
		f.open = append(f.open, openBlock{})
	}
	b := &f.open[len(f.open)-1]
	b.line = append(b.line[:0], line...)
	b.te, b.cl = false, false
}

// header notes a header line, head its first bytes, in the blocks being read.
func (f *framingLog) header(head []byte) {
	if len(f.open) == 0 { // a body's line
		return
	}
	if otherSpelling(head) {
		f.otherSpelling.Store(true)
	}
	te, cl := hasFoldedPrefix(head, "transfer-encoding:"), hasFoldedPrefix(head, "content-length:")
	for i := range f.open {
		f.open[i].te = f.open[i].te || te
		f.open[i].cl = f.open[i].cl || cl
	}
}

// otherSpelling reports whether a header line that begins with head may
// say a length to a front end in a way net/http does not read as one: a
// folded line (obs-fold, a space or tab first), which net/http joins to
// the value of the line before and a front end may read as a header of
// its own; or the name Content-Length or Transfer-Encoding written with
// '_' for '-' (in any case), which net/http keeps as another header and
// some front ends read as the one. Either may frame the request otherwise
// than net/http does (request smuggling). Most lines hold no '_': they
// cost one scan of their first bytes.
func otherSpelling(head []byte) bool {
	if len(head) > 0 && (head[0] == ' ' || head[0] == '\t') {
		return true
	}
	if bytes.IndexByte(head, '_') < 0 {
		return false
	}
	return hasUnderscoredPrefix(head, "transfer-encoding:") || hasUnderscoredPrefix(head, "content-length:")
}

// hasUnderscoredPrefix reports whether b begins with prefix, in any case,
// a '_' in b taken for a '-', with one '_' at least.
func hasUnderscoredPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	underscored := false
	for i := range len(prefix) {
		c := b[i]
		switch {
		case c == '_':
			c, underscored = '-', true
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return underscored
}

// startsAsRequestLine reports whether a line that begins with head may be
// a request line: a method, then a space. A header line has a ':' before
// any space (net/http refuses a name that holds one), a folded line
// (obs-fold) begins with a space or tab; a line whose head holds neither
// is not taken for one.
func startsAsRequestLine(head []byte) bool {
	i := bytes.IndexAny(head, ": \t")
	return i > 0 && head[i] == ' '
}

// requestLineEnd reports whether line ends as a request line of HTTP/1
// does: a space, then HTTP/1. and a digit (net/http takes no other).
func requestLineEnd(line []byte) bool {
	const end = " HTTP/1.x"
	if len(line) < len(end) {
		return false
	}
	e := line[len(line)-len(end):]
	return string(e[:len(end)-1]) == end[:len(end)-1] && '0' <= e[len(end)-1] && e[len(end)-1] <= '9'
}

// hasFoldedPrefix reports whether b begins with prefix, in any case.
func hasFoldedPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

// framing is what a connection's reads say of a request's framing.
type framing int

const (
	framingPlain     framing = iota // one of Content-Length and chunks, as net/http says
	framingAmbiguous                // both, or Transfer-Encoding on HTTP/1.0
	framingUnknown                  // chunked or HTTP/1.0, and the log cannot tell: its block not found, or one dropped; or a length spelled otherwise on the connection
)

// framingOf returns what the reads of r's connection say of its framing:
// only a chunked request, or one of HTTP/1.0, is looked for. Every block
// kept with r's request line counts, not only the first: a body before it
// (another client's, behind a front end) may hold a block as r's without
// Content-Length, or r's own chunks one after it. It takes the first, and
// those before it, out of the log: net/http serves a connection's
// requests in order. Any request, once a block on its connection said a
// length in another spelling (otherSpelling), is unknown (closed after
// its answer) but where it is ambiguous: the block read may be its own, or
// one read ahead behind it, which the connection's end keeps unread
// either way. A connection not tracked (a test's, or a request made in
// Go) says nothing: plain.
func framingOf(r *http.Request) framing {
	t, ok := r.Context().Value(connKey{}).(*trackedConn)
	if !ok {
		return framingPlain
	}
	f := &t.framing
	chunked := len(r.TransferEncoding) > 0
	if !chunked && r.ProtoAtLeast(1, 1) {
		if f.otherSpelling.Load() {
			return framingUnknown
		}
		return framingPlain
	}
	line := r.Method + " " + r.RequestURI + " " + r.Proto
	f.mu.Lock()
	defer f.mu.Unlock()
	found, ambiguous := -1, false
	for i, b := range f.blocks {
		if lineMatches(b.line, line) {
			if found < 0 {
				found = i
			}
			ambiguous = ambiguous || b.contentLength || !r.ProtoAtLeast(1, 1)
		}
	}
	switch {
	case ambiguous:
		f.blocks = f.blocks[found+1:]
		return framingAmbiguous
	case f.lost || f.otherSpelling.Load():
		return framingUnknown
	case found >= 0:
		f.blocks = f.blocks[found+1:]
		return framingPlain
	case chunked:
		return framingUnknown
	}
	return framingPlain
}

// lineMatches reports whether kept, the end of a line read, is the end of
// line, a request line: the line read may begin with the end of the body
// before it, and only its last maxRequestLineTail bytes are kept.
func lineMatches(kept []byte, line string) bool {
	if len(line) <= len(kept) {
		return string(kept[len(kept)-len(line):]) == line
	}
	return len(kept) == maxRequestLineTail && line[len(line)-len(kept):] == string(kept)
}
