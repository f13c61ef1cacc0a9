// Package ssetest reads a text/event-stream (server-sent events) the way a
// browser's EventSource does, per the WHATWG rules, for tests that check what
// a server sends. Unlike EventSource it also reports the blocks that dispatch
// nothing (comments, id-only and retry frames), so a test can see them.
//
// cmd/load subscribers has a parser of its own: a load generator's, allocation-free,
// that skips what a load test does not look at.
package ssetest

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
)

// NewParser reads frames from r; lastID is the last event ID a reconnecting
// client sent, kept until a frame changes it ("" for a first connection).
func NewParser(r io.Reader, lastID string) *Parser {
	return &Parser{r: bufio.NewReaderSize(r, 64<<10), lastID: lastID}
}

// Frame is one block of a text/event-stream, ended by a blank line: an
// event, a retry frame, a comment (keep-alive) or an id-only frame. Fields
// are read per the WHATWG rules; unlike EventSource it reports blocks that
// dispatch nothing, so that tests can see them.
type Frame struct {
	ID       string // the id field, when HasID
	HasID    bool
	Event    string // the event field; "" for a plain message
	Data     string // the data lines joined by "\n", when HasData
	HasData  bool
	Retry    string   // the retry field, if it was all digits
	Comments []string // comment lines, without ":" and one leading space
	Unknown  []string // lines naming any other field
	// LastEventID is what an EventSource would send as Last-Event-ID after
	// this frame: the id of the last frame that carried one.
	LastEventID string
}

// IsComment reports whether the frame holds nothing but comments.
func (f Frame) IsComment() bool {
	return len(f.Comments) > 0 && !f.HasID && !f.HasData && f.Event == "" && f.Retry == "" && len(f.Unknown) == 0
}

// String renders the frame the way it came on the wire, for messages.
func (f Frame) String() string {
	var b strings.Builder
	for _, c := range f.Comments {
		b.WriteString(": " + c + "\n")
	}
	if f.Retry != "" {
		b.WriteString("retry: " + f.Retry + "\n")
	}
	if f.Event != "" {
		b.WriteString("event: " + f.Event + "\n")
	}
	if f.HasID {
		b.WriteString("id: " + f.ID + "\n")
	}
	if f.HasData {
		data := f.Data
		if len(data) > 200 {
			data = data[:200] + "…"
		}
		b.WriteString("data: " + strings.ReplaceAll(data, "\n", "\ndata: ") + "\n")
	}
	for _, u := range f.Unknown {
		b.WriteString(u + "\n")
	}
	return strconv.Quote(b.String())
}

// Parser splits a text/event-stream into frames.
type Parser struct {
	r       *bufio.Reader
	started bool   // the byte order mark has been looked for
	afterCR bool   // the last line ended with CR: a LF right after belongs to it
	lastID  string // the last event ID buffer
}

// readLine returns the next line without its end (CRLF, LF or CR). It never
// waits for more input than the line needs, so a frame ending in CR is
// dispatched at once. At the end of the input it returns what it has read
// of an unfinished line along with the error.
func (p *Parser) readLine() (string, error) {
	var line []byte
	for {
		if _, err := p.r.Peek(1); err != nil {
			return string(line), err
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		if p.afterCR {
			p.afterCR = false
			if buf[0] == '\n' {
				p.r.Discard(1) //nolint:errcheck // buffered
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			line = append(line, buf...)
			p.r.Discard(len(buf)) //nolint:errcheck // buffered
			continue
		}
		line = append(line, buf[:i]...)
		p.afterCR = buf[i] == '\r'
		p.r.Discard(i + 1) //nolint:errcheck // buffered
		return string(line), nil
	}
}

// Next reads up to the next blank line and returns the frame. At the end of
// the input it returns the error and whether a frame had begun (WHATWG
// discards such a frame).
func (p *Parser) Next() (f Frame, partial bool, err error) {
	var data []string
	begun := false
	for {
		line, err := p.readLine()
		if err != nil {
			return Frame{}, begun || line != "", err
		}
		if !p.started {
			p.started = true
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" {
			if !begun {
				continue
			}
			f.Data = strings.Join(data, "\n")
			f.LastEventID = p.lastID
			return f, false, nil
		}
		begun = true
		if line[0] == ':' {
			f.Comments = append(f.Comments, strings.TrimPrefix(line[1:], " "))
			continue
		}
		name, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch name {
		case "event":
			f.Event = value
		case "data":
			data = append(data, value)
			f.HasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				f.ID, f.HasID = value, true
				p.lastID = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				f.Retry = value
			}
		default:
			f.Unknown = append(f.Unknown, line)
		}
	}
}
