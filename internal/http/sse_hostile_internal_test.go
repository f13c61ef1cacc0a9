package http

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// planned is one event a test writes, and where it lands.
type planned struct {
	stream     int
	streamType string
	typ        string
	pad        int
	position   int64
	version    int64
}

// TestSubscribersOverTheLargeFrameBoundThatStallFilterAndResumeGetEveryEventOnce:
// many live subscribers over the bound on large frames at once, of every
// kind (the whole log, by stream type, by event type, one stream), some stalling for a while and then reading fast, one leaving in
// the middle and resuming with Last-Event-ID, while events of mixed sizes are
// written. Each gets exactly the events it asked for, once, in order, whole,
// and nothing stays pinned or placed once they leave. On both stores.
func TestSubscribersOverTheLargeFrameBoundThatStallFilterAndResumeGetEveryEventOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, Buffer: 32, BufferBytes: 2 << 20}, Options{Heartbeat: 150 * time.Millisecond, StallTimeout: time.Minute})
		s.frames.pinLimit = 100 << 10 // less than one of the largest frames
		srv := serveRaw(t, s, true)

		// The plan: one writer, one event an append, so positions are 1, 2, ….
		streams := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		streamTypes := []string{"A", "B", "A"}
		pads := []int{20, 8<<10 - 250, 8<<10 - 150, 40 << 10, 300 << 10}
		var plan []planned
		versions := make([]int64, len(streams))
		for i := range 70 {
			st := (i * 7) % len(streams)
			versions[st]++
			plan = append(plan, planned{stream: st, streamType: streamTypes[st], typ: []string{"X", "Y"}[(i/3)%2],
				pad: pads[(i*3)%len(pads)], position: int64(i + 1), version: versions[st]})
		}
		type client struct {
			name   string
			path   string
			stream int // -1: the log
			keep   func(planned) bool
			stall  int64 // after its third event, until this many more are written
			resume bool  // leaves after its fifth event, and comes back
		}
		all := func(planned) bool { return true }
		clients := []client{
			{name: "steady", path: "/events", stream: -1, keep: all},
			{name: "by stream type", path: "/events?stream_type=A", stream: -1, keep: func(p planned) bool { return p.streamType == "A" }, stall: 20},
			{name: "by event type", path: "/events?type=Y", stream: -1, keep: func(p planned) bool { return p.typ == "Y" }, stall: 10},
			{name: "one stream", path: "/streams/" + streams[0].String() + "/events", stream: 0,
				keep: func(p planned) bool { return p.stream == 0 }, stall: 15},
			{name: "resuming", path: "/events", stream: -1, keep: all, resume: true},
			{name: "stalled a while", path: "/events", stream: -1, keep: all, stall: 40},
			{name: "stalled longer", path: "/events", stream: -1, keep: all, stall: 60},
		}

		dial := func(path, lastID string) (net.Conn, *ssetest.Parser) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Error(err)
				return nil, nil
			}
			c.(*net.TCPConn).SetReadBuffer(64 << 10) //nolint:errcheck // a hint
			req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
			if lastID != "" {
				req += "Last-Event-ID: " + lastID + "\r\n"
			}
			fmt.Fprint(c, req+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != 200 {
				c.Close()
				t.Errorf("subscribing to %s: %v, %v", path, resp, err)
				return nil, nil
			}
			c.SetReadDeadline(time.Now().Add(40 * time.Second)) //nolint:errcheck // bounds a hang up to caught-up
			return c, ssetest.NewParser(resp.Body, lastID)
		}
		// next returns the next event frame, past retry, caught-up, progress
		// and keep-alive frames.
		next := func(p *ssetest.Parser) (ssetest.Frame, error) {
			for {
				f, _, err := p.Next()
				if err != nil || (f.HasData && f.Event == "") {
					return f, err
				}
			}
		}
		var writes atomic.Int64 // events written
		var caughtUp sync.WaitGroup
		var wg sync.WaitGroup
		for _, cl := range clients {
			var want []planned
			for _, p := range plan {
				if cl.keep(p) {
					want = append(want, p)
				}
			}
			c, p := dial(cl.path, "")
			if c == nil {
				return
			}
			for f, _, err := p.Next(); f.Event != "caught-up"; f, _, err = p.Next() {
				if err != nil {
					t.Fatalf("%s: %v", cl.name, err)
				}
			}
			caughtUp.Add(1)
			wg.Go(func() {
				defer func() { c.Close() }()
				lastID := ""
				for i, w := range want {
					if cl.stall > 0 && i == 3 {
						// Stalled, then fast.
						until := writes.Load() + cl.stall
						for writes.Load() < min(until, int64(len(plan))) {
							time.Sleep(time.Millisecond)
						}
					}
					if cl.resume && i == 5 {
						c.Close()
						if c, p = dial(cl.path, lastID); c == nil {
							return
						}
					}
					// Each event within 40 s of asking for it: one deadline
					// for all of them, set at the start, ran out on a busy
					// machine, where the appends alone took 15 to 28 s.
					c.SetReadDeadline(time.Now().Add(40 * time.Second)) //nolint:errcheck // bounds a hang
					f, err := next(p)
					if err != nil {
						t.Errorf("%s: event %d of %d: %v", cl.name, i+1, len(want), err)
						return
					}
					var e struct {
						Position int64  `json:"position"`
						Version  int64  `json:"version"`
						Stream   string `json:"stream_id"`
						Data     struct {
							I   int    `json:"i"`
							Pad string `json:"pad"`
						} `json:"data"`
					}
					if err := json.Unmarshal([]byte(f.Data), &e); err != nil {
						// Where it breaks, not only how the frame begins: a
						// frame run into the next one broke at its end.
						at := len(f.Data)
						if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
							at = int(se.Offset)
						}
						t.Errorf("%s: event %d: %v in %.120q…%q (byte %d of %d)", cl.name, i+1, err,
							f.Data, f.Data[max(at-120, 0):min(at+120, len(f.Data))], at, len(f.Data))
						return
					}
					id := e.Position
					if cl.stream >= 0 {
						id = e.Version
					}
					if e.Position != w.position || f.ID != strconv.FormatInt(id, 10) || e.Data.I != int(w.position-1) ||
						len(e.Data.Pad) != w.pad || e.Stream != streams[w.stream].String() {
						t.Errorf("%s: event %d of %d: id %s, position %d, i %d, %d bytes of pad; want the event at position %d with %d",
							cl.name, i+1, len(want), f.ID, e.Position, e.Data.I, len(e.Data.Pad), w.position, w.pad)
						return
					}
					lastID = f.ID
				}
				// Nothing more: a repeat would come before the next keep-alive.
				c.SetReadDeadline(time.Now().Add(400 * time.Millisecond)) //nolint:errcheck
				if f, err := next(p); err == nil {
					t.Errorf("%s: after its %d events, another: %s", cl.name, len(want), f)
				}
			})
		}
		ns := feed.Notifying(store)
		for i, p := range plan {
			data := fmt.Appendf(nil, `{"i":%d,"pad":"%s"}`, i, strings.Repeat("p", p.pad))
			res, err := ns.Append(context.Background(), eventstore.AppendRequest{StreamID: streams[p.stream], StreamType: p.streamType,
				Events: []eventstore.NewEvent{{Type: p.typ, Data: data}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Events[0].Position != p.position {
				t.Fatalf("event %d landed at position %d; the plan says %d", i, res.Events[0].Position, p.position)
			}
			writes.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
		wg.Wait()
		if feed.Dropped() == 0 {
			t.Error("no subscriber declined an event or fell behind the live buffer: the test proves less than it says")
		}
		deadline := time.Now().Add(5 * time.Second)
		for (s.frames.pinnedBytes() > 0 || feed.Subscribers() > 0) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n, m := s.frames.pinnedBytes(), feed.CatchUpBytes(); n > 0 || m > 0 {
			t.Errorf("every client gone, %d bytes of large frames pinned and %d of the catch-up budget held; want none", n, m)
		}
	})
}
