// Package ssetest reads a text/event-stream (server-sent events) the way a
// browser's EventSource does, per the WHATWG rules, for tests that check what
// a server sends. Unlike EventSource it also reports the blocks that dispatch
// nothing (comments, id-only and retry frames), so a test can see them.
//
// cmd/load subscribers has a frame parser of its own: a load generator's,
// allocation-free, that skips what a load test does not look at, over the
// same line reader (sseline's SkimLine).
package ssetest

import (
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tributary-dev/tributary/internal/sseline"
)

// NewParser reads frames from r; lastID is the last event ID a reconnecting
// client sent, kept until a frame changes it ("" for a first connection).
func NewParser(r io.Reader, lastID string) *Parser {
	return &Parser{r: sseline.NewReader(r, 64<<10), lastID: lastID}
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

// Parser splits a text/event-stream into frames. Its lines are read by
// sseline, the Go client's own line reader, so that what the tests see of
// the server's stream is what the client reads of it.
type Parser struct {
	r      *sseline.Reader
	lastID string // the last event ID buffer
}

// Next reads up to the next blank line and returns the frame. At the end of
// the input it returns the error and whether a frame had begun (WHATWG
// discards such a frame).
func (p *Parser) Next() (f Frame, partial bool, err error) {
	var data []string
	begun := false
	for {
		line, _, err := p.r.ReadLine(math.MaxInt)
		if err != nil {
			return Frame{}, begun || line != "", err
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
