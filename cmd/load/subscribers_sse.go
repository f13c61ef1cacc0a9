package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/sseline"
)

// arrival is one event frame as a subscriber received it.
type arrival struct {
	pos int64         // the frame's id: the event's position in the log
	at  time.Duration // when its frame was complete, on the phase's clock
}

// subscriber is one SSE connection to GET /events.
type subscriber struct {
	caughtUp chan struct{} // closed at the "caught-up" frame
	done     chan struct{} // closed when the connection has ended
	last     atomic.Int64  // the position of the last event received

	// Owned by the subscriber's goroutine until done is closed.
	arrivals []arrival
	err      error // why the connection ended early; nil if it was cancelled
}

func newSubscriber(expected int) *subscriber {
	return &subscriber{
		caughtUp: make(chan struct{}),
		done:     make(chan struct{}),
		arrivals: make([]arrival, 0, expected),
	}
}

// run subscribes to url and records every event frame until ctx ends. It
// calls connected once the response headers have arrived or the request has
// failed, so that the caller can limit how many connections are being set up
// at any time.
func (s *subscriber) run(ctx context.Context, client *http.Client, url string, clock time.Time, connected func()) {
	defer close(s.done)
	err := s.read(ctx, client, url, clock, connected)
	if ctx.Err() == nil {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		s.err = err
	}
}

func (s *subscriber) read(ctx context.Context, client *http.Client, url string, clock time.Time, connected func()) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		connected()
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	connected()
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("subscribe: %s: %s", resp.Status, b)
	}
	caughtUp := false
	return readFrames(resp.Body, func(f frame) {
		switch {
		case f.event == "caught-up":
			if !caughtUp {
				caughtUp = true
				close(s.caughtUp)
			}
		case f.event == "" && f.data && f.hasID:
			s.arrivals = append(s.arrivals, arrival{pos: f.id, at: time.Since(clock)})
			s.last.Store(f.id)
		}
	})
}

// frame is what the subscribers need of one server-sent event.
type frame struct {
	id    int64
	hasID bool
	event string
	data  bool // it has a data field
}

// readFrames parses a text/event-stream and calls fn for each frame that has
// at least one field, until the stream ends or fails. Its lines are split as
// the Go client splits them (internal/sseline, the WHATWG rules: CR LF, LF
// or CR alone end a line, one leading byte-order mark is dropped). It
// allocates only for event names, and skips the content of data lines,
// however long.
func readFrames(r io.Reader, fn func(frame)) error {
	lines := sseline.NewReader(r, 4096)
	var f frame
	fields := 0
	for {
		// A field's name and an id (19 digits at most) are all that is read.
		line, n, err := lines.SkimLine(64)
		if err != nil {
			// A frame not ended by a blank line is discarded, as the
			// WHATWG parser does at the end of the stream.
			return err
		}
		complete := n == len(line)
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch {
		case n == 0:
			if fields > 0 {
				fn(f)
			}
			f, fields = frame{}, 0
		case len(name) == 0:
			// A comment, such as ": keep-alive".
		case string(name) == "id":
			f.id, f.hasID = parseID(value, complete)
			fields++
		case string(name) == "event":
			f.event = string(value)
			if f.event == "message" {
				f.event = "" // what a frame without the field is named
			}
			fields++
		case string(name) == "data":
			f.data = true
			fields++
		default:
			fields++ // retry, or a field not used here
		}
	}
}

// parseID reads a frame id as a non-negative decimal number, up to
// math.MaxInt64 (19 digits), as far as the server's positions go.
func parseID(b []byte, complete bool) (int64, bool) {
	if !complete || len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false // past int64
		}
		n = n*10 + d
	}
	return n, true
}
