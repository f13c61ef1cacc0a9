// Package sseline reads the lines of a text/event-stream (server-sent
// events) as the WHATWG rules (HTML §9.2.5) split them: one leading UTF-8
// byte-order mark is no part of the stream, and a line ends in CR LF, LF or
// CR alone. It is the one line reader of the Go client, of the tests'
// parser (internal/ssetest) and of the load tool's subscribers, so that all
// read the stream alike.
package sseline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// ErrTooLong is a line longer than ReadLine's bound.
var ErrTooLong = errors.New("sseline: a line longer than the bound")

// Reader reads an event stream's lines.
type Reader struct {
	r *bufio.Reader
	// begun: the stream's first bytes were looked at for a byte-order mark.
	begun bool
	// cr: the last line ended in CR, so an LF right after it is part of
	// that end, which may come in a later read.
	cr bool
	// noLF: the first noLF buffered bytes hold no LF, as the last scan
	// found, so that lines ended by CR alone are not each scanned for an
	// LF up to the end of the buffer.
	noLF int
	// kept: what SkimLine keeps of a line, reused line after line.
	kept []byte
}

// NewReader reads lines from r through a buffer of size bytes (bufio's
// default for 0).
func NewReader(r io.Reader, size int) *Reader {
	if size <= 0 {
		return &Reader{r: bufio.NewReader(r)}
	}
	return &Reader{r: bufio.NewReaderSize(r, size)}
}

// ReadLine reads the next line and its end, and returns the line without
// it and how many bytes they took from the stream: a CR LF end counts
// two. It returns ErrTooLong once more than most bytes come without an
// end, and at the end of the stream what it read of an unfinished line
// with the error. It never waits for more input than the line needs, so
// a line that ends in CR is returned at once; the LF of a CR LF that
// comes in a later read is taken, and counted, with the next line. The
// bytes of every call add up to the stream's, but for a leading
// byte-order mark.
func (r *Reader) ReadLine(most int) (string, int, error) {
	// taken counts the bytes of the line's end, and an LF left from the
	// line before, which count towards most.
	taken := r.start()
	// A line longer than the buffer is gathered in a Builder, which
	// doubles as it grows (append grows a large slice by a quarter, and
	// copied a 1 MiB line five times over) and gives its bytes up as the
	// string without a last copy.
	var line strings.Builder
	for {
		if _, err := r.r.Peek(1); err != nil {
			return line.String(), taken + line.Len(), err
		}
		buf, _ := r.r.Peek(r.r.Buffered())
		i := r.lineEnd(buf)
		if i < 0 {
			if taken+line.Len()+len(buf) > most {
				return "", 0, ErrTooLong
			}
			line.Grow(len(buf))
			line.Write(buf)
			r.r.Discard(len(buf)) //nolint:errcheck // peeked
			continue
		}
		end := 1
		if buf[i] == '\r' {
			if i+1 < len(buf) && buf[i+1] == '\n' {
				end = 2 // the whole CR LF is here
			} else {
				r.cr = i+1 == len(buf) // its LF may come in the next read
			}
		}
		taken += end
		if taken+line.Len()+i > most {
			r.cr = false
			return "", 0, ErrTooLong
		}
		var s string
		if line.Len() == 0 {
			s = string(buf[:i]) // the usual line, within the buffer: one copy
		} else {
			line.Write(buf[:i])
			s = line.String()
		}
		r.r.Discard(i + end) //nolint:errcheck // peeked
		return s, taken + len(s), nil
	}
}

// start drops a leading byte-order mark before the stream's first line,
// and, before any other, the LF of the last line's CR LF if it came
// after the CR was returned, which it counts: 1 if it took one, else 0.
func (r *Reader) start() int {
	if !r.begun {
		r.begun = true
		// The UTF-8 decode the stream goes through strips one mark.
		if b, err := r.r.Peek(1); err == nil && b[0] == 0xEF {
			if b, err := r.r.Peek(3); err == nil && string(b) == "\uFEFF" {
				r.r.Discard(3) //nolint:errcheck // peeked
			}
		}
	}
	if !r.cr {
		return 0
	}
	// Read only now, with the next line: a frame that ends in CR is not
	// held back until the next byte comes.
	r.cr = false
	if b, err := r.r.Peek(1); err == nil && b[0] == '\n' {
		r.r.Discard(1) //nolint:errcheck // peeked
		return 1
	}
	return 0
}

// SkimLine reads the next line as ReadLine does, its end and a leading
// byte-order mark alike, but keeps only its first keep bytes, returned in
// a slice that holds them until the next call, and skips the rest,
// however long, without allocating once it has kept keep bytes: for a
// reader that needs of a line only its field's name and a short value.
// It returns the line's whole length too, and at the end of the stream
// what it kept of an unfinished line with the error.
func (r *Reader) SkimLine(keep int) ([]byte, int, error) {
	r.start()
	r.kept = r.kept[:0]
	n := 0
	for {
		if _, err := r.r.Peek(1); err != nil {
			return r.kept, n, err
		}
		buf, _ := r.r.Peek(r.r.Buffered())
		i := r.lineEnd(buf)
		if i < 0 {
			r.kept = append(r.kept, buf[:min(len(buf), keep-len(r.kept))]...)
			n += len(buf)
			r.r.Discard(len(buf)) //nolint:errcheck // peeked
			continue
		}
		r.kept = append(r.kept, buf[:min(i, keep-len(r.kept))]...)
		n += i
		end := 1
		if buf[i] == '\r' {
			if i+1 < len(buf) && buf[i+1] == '\n' {
				end = 2
			} else {
				r.cr = i+1 == len(buf) // its LF may come in the next read
			}
		}
		r.r.Discard(i + end) //nolint:errcheck // peeked
		return r.kept, n, nil
	}
}

// TakeLF settles the end of the last line read when it was a CR, the last
// byte buffered then: it waits for the next byte and, if it is an LF, part
// of that end, takes it and returns 1, the byte the next ReadLine would
// have taken and counted. Otherwise it takes nothing and returns 0, at
// once if no CR is pending, and with the error of a read that brings no
// byte (io.EOF at the end of the stream), which the next ReadLine meets
// again. A caller that counts a line's bytes against a bound calls it to
// count a CR LF's LF with the line it ends, or not at all (that of a
// blank line).
func (r *Reader) TakeLF() (int, error) {
	if !r.cr {
		return 0, nil
	}
	b, err := r.r.Peek(1)
	if err != nil {
		return 0, err
	}
	r.cr = false
	if b[0] != '\n' {
		return 0, nil
	}
	r.r.Discard(1) //nolint:errcheck // peeked
	return 1, nil
}

// lineEnd returns the index of the first CR or LF in buf, the bytes
// buffered, or -1, and sets noLF for the bytes after it. Two IndexByte
// scans, which are vectorised, cost a fraction of one IndexAny, which goes
// a byte at a time: LF first, the usual end, then CR only before it.
func (r *Reader) lineEnd(buf []byte) int {
	lf := len(buf)
	if i := bytes.IndexByte(buf[r.noLF:], '\n'); i >= 0 {
		lf = r.noLF + i
	}
	end := bytes.IndexByte(buf[:lf], '\r')
	if end < 0 {
		end = lf
	}
	if end == len(buf) {
		r.noLF = 0 // all of buf is taken
		return -1
	}
	r.noLF = max(lf-(end+1), 0)
	return end
}
