package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// replayServer answers every subscription, whatever its starting point,
// with the frames frames(conn) gives its conn-th connection (from 1), each
// an event of the log named by its first element at the version and
// position of its second, in stream; a 0 position is the caught-up frame
// at the log's head, and a negative one holds the connection open.
func replayServer(t *testing.T, stream uuid.UUID, frames func(conn int) []replayed) *httptest.Server {
	t.Helper()
	var conns atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		var b strings.Builder
		b.WriteString("retry: 1\n\n")
		head := 0
		for _, f := range frames(int(conns.Add(1))) {
			switch {
			case f.n > 0:
				id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("%s/%d", f.log, f.n)))
				fmt.Fprintf(&b, "id: %d\ndata: %s\n\n", f.n, eventJSON(id, stream, f.n, f.n))
				head = f.n
			case f.n == 0:
				fmt.Fprintf(&b, "event: caught-up\ndata: %d\n\n", head)
			default:
				io.WriteString(w, b.String()) //nolint:errcheck // a test's answer
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return
			}
		}
		io.WriteString(w, b.String()) //nolint:errcheck // a test's answer
	})
	return srv
}

// replayed is one frame of replayServer: the event of log at n.
type replayed struct {
	log string
	n   int
}

// run is the events of log from first to last, in order.
func run(log string, first, last int) []replayed {
	var out []replayed
	for n := first; n <= last; n++ {
		out = append(out, replayed{log, n})
	}
	return out
}

// TestSubscribeTakesALongReplayOfTheSameEventsForRepeats: a subscription
// knew again only the last 1,024 events it had delivered, and took any
// event at or below the last one that it did not know for another log's:
// a server that resent more than that on a resumption (one that starts
// again from an earlier position than asked, behind a proxy that dropped
// both Last-Event-ID and the query) ended it with ErrLogReset, though
// every event resent was the one delivered there. Only an event at a
// place where another was delivered proves a reset; one before the
// events the subscription still knows proves nothing and is dropped.
func TestSubscribeTakesALongReplayOfTheSameEventsForRepeats(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			srv := replayServer(t, id, func(conn int) []replayed {
				if conn == 1 {
					return run("log", 1, 2000)
				}
				// From the start again, caught up, then what is new.
				return append(append(run("log", 1, 2000), replayed{"log", 0}), run("log", 2001, 2003)...)
			})
			opts := SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
			if stream {
				opts.StreamID = id
			}
			msgs, last := subscribeFor(t, srv, 10*time.Second, opts, 2003)
			var events []int64
			for _, m := range msgs {
				if !m.CaughtUp {
					events = append(events, m.Event.Version)
				}
			}
			if len(events) != 2003 || events[0] != 1 || events[2002] != 2003 || last != nil {
				t.Errorf("received %d events (%v … %v), then %v; expected 1 to 2003 once each, the replay of 1 to 2000 dropped",
					len(events), events[:min(len(events), 3)], events[max(len(events)-3, 0):], last)
			}
		})
	}
}

// TestSubscribeStillSeesALogResetAfterManyEvents: the sibling of the
// above, which must not give up what the rule was for. After more events
// than the subscription knows again, a server that comes back with
// another log is still ErrLogReset, nothing of the new log delivered:
// whether its events reach the places the subscription knows, or the new
// log is shorter and its caught-up frame says its head is behind what
// was delivered.
func TestSubscribeStillSeesALogResetAfterManyEvents(t *testing.T) {
	t.Parallel()
	for name, again := range map[string][]replayed{
		"a longer new log":              run("new", 1, 2500),
		"a shorter new log, caught up":  append(run("new", 1, 5), replayed{"new", 0}, replayed{"new", -1}),
		"a shorter new log, going live": append(append(run("new", 1, 5), replayed{"new", 0}), run("new", 6, 10)...),
	} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, stream=%v", name, stream), func(t *testing.T) {
				t.Parallel()
				id := uuid.New()
				srv := replayServer(t, id, func(conn int) []replayed {
					if conn == 1 {
						return run("old", 1, 2000)
					}
					return again
				})
				opts := SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
				if stream {
					opts.StreamID = id
				}
				msgs, last := subscribeFor(t, srv, 10*time.Second, opts, 0)
				if len(msgs) != 2000 || msgs[1999].Event.Version != 2000 || !errors.Is(last, ErrLogReset) {
					t.Errorf("received %d messages, then %v; expected 1 to 2000, then ErrLogReset", len(msgs), last)
				}
			})
		}
	}
}

// TestSubscribeEndsAtACaughtUpBehindItsStartingPoint: a server that
// ignores the starting point (Tributary refuses one past its head as
// ahead) and says it is caught up before it is the caller's starting point
// past the server's log: ErrStartingPointAhead, not ErrLogReset, as for
// Tributary's 409, and not a subscription that waits for ever for events
// it drops.
func TestSubscribeEndsAtACaughtUpBehindItsStartingPoint(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			var conns atomic.Int64
			srv := replayServer(t, id, func(int) []replayed {
				conns.Add(1)
				return append(run("log", 1, 5), replayed{"log", 0}, replayed{"log", -1})
			})
			opts := SubscribeOptions{MinBackoff: time.Millisecond, After: 100}
			if stream {
				opts = SubscribeOptions{MinBackoff: time.Millisecond, StreamID: id, From: 101}
			}
			msgs, last := subscribeFor(t, srv, 30*time.Second, opts, 0)
			if len(msgs) != 0 || !errors.Is(last, ErrStartingPointAhead) || errors.Is(last, ErrLogReset) || conns.Load() != 1 {
				t.Errorf("received %d messages, then %v after %d connections; expected none, then ErrStartingPointAhead on the first", len(msgs), last, conns.Load())
			}
		})
	}
}

// TestSubscribeEndsAtAnEventItDidNotAskFor: a server (or a proxy that
// strips the query) that ignored the filters, or sent another stream's
// events on a stream subscription, had them delivered as if they matched:
// a projection of orders was handed invoices, and another stream's
// versions moved the resume point of this one's. Such an event is not
// Tributary's answer to the subscription, and a reconnection would meet
// it again: the iteration ends at it, naming it, after every event before.
func TestSubscribeEndsAtAnEventItDidNotAskFor(t *testing.T) {
	t.Parallel()
	stream, other := uuid.New(), uuid.New()
	event := func(streamID uuid.UUID, streamType, typ string, n int) string {
		return fmt.Sprintf(`{"id":"%s","stream_id":"%s","stream_type":"%s","version":%d,"position":%d,"type":"%s","data":{},"recorded_at":"2026-12-04T00:00:00Z"}`,
			uuid.New(), streamID, streamType, n, n, typ)
	}
	for name, tc := range map[string]struct {
		opts   SubscribeOptions
		frames []string // the second is the one not asked for
	}{
		"another stream type": {SubscribeOptions{StreamTypes: []string{"order", "cart"}},
			[]string{event(stream, "order", "A", 1), event(other, "invoice", "A", 2)}},
		"another event type": {SubscribeOptions{EventTypes: []string{"A"}},
			[]string{event(stream, "order", "A", 1), event(stream, "order", "B", 2)}},
		"a type in another case": {SubscribeOptions{StreamTypes: []string{"order"}, EventTypes: []string{"A"}},
			[]string{event(stream, "order", "A", 1), event(stream, "Order", "A", 2)}},
		"another stream": {SubscribeOptions{StreamID: stream},
			[]string{event(stream, "order", "A", 1), event(other, "order", "A", 2)}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				startEventStream(w)
				for i, f := range tc.frames {
					fmt.Fprintf(w, "id: %d\ndata: %s\n\n", i+1, f)
				}
			})
			tc.opts.MinBackoff, tc.opts.MaxBackoff = time.Millisecond, 10*time.Millisecond
			msgs, last := subscribeFor(t, srv, 30*time.Second, tc.opts, 0)
			if len(msgs) != 1 || msgs[0].Event.Version != 1 || last == nil || !strings.Contains(last.Error(), "event 2") || requests.Load() != 1 {
				t.Errorf("received %d messages, then %v after %d requests; expected the first event, then an error naming event 2", len(msgs), last, requests.Load())
			}
		})
	}
	// A filter name given with a comma in it is two names to the server,
	// and to the client.
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+event(stream, "cart", "A", 1)+"\n\n") //nolint:errcheck // a test's answer
	})
	if msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{StreamTypes: []string{"order,cart"}}, 1); len(msgs) != 1 {
		t.Errorf("StreamTypes order,cart: received %d messages, then %v; expected the cart event", len(msgs), last)
	}
}

// TestSubscribeDeliversAFrameNamedMessage: a frame whose event field is
// "message", the name an event stream's frames have without one (WHATWG
// HTML §9.2.6), as a server or proxy may write it out, was not taken for
// an event, but its id moved the resume point past it: the event was
// skipped without a word.
func TestSubscribeDeliversAFrameNamedMessage(t *testing.T) {
	t.Parallel()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nid: 1\nevent: message\ndata: "+sseEvent(1)+"\n\nid: 2\ndata: "+sseEvent(2)+"\n\n") //nolint:errcheck // a test's answer
	})
	if got := collectPositions(t, srv, 2); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("received %v; expected positions 1 and 2, the first from a frame named message", got)
	}
}

// TestAStreamSubscriptionEndsAtAMissingVersion: the sibling of
// TestAStreamReadEndsAtAGapOrAnEndShortOfTheStream. A stream's versions
// come without gaps, but a stream subscription delivered whatever version
// came next, past a gap, from its start or after a resumption: the
// consumer's aggregate went on with an event missing. It now ends there,
// naming the versions missing, after every event before.
func TestAStreamSubscriptionEndsAtAMissingVersion(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		from   int64
		conns  [][]int // the versions each connection sends, -v a caught-up at v
		good   int     // the events delivered before the error
		missed string  // what the error names
	}{
		"on one connection":  {0, [][]int{{1, 2, 4}}, 2, "3"},
		"from its start":     {5, [][]int{{6, 7}}, 0, "5"},
		"from 1":             {0, [][]int{{2}}, 0, "1"},
		"after a resumption": {0, [][]int{{1, 2}, {2, 5}}, 2, "3 to 4"},
		// A caught-up frame past the last version delivered said the
		// consumer had everything up to it.
		"caught up past the last":  {0, [][]int{{1, 2, -4}}, 2, "3 to 4"},
		"caught up past its start": {5, [][]int{{-5}}, 0, "5"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			var conns atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(conns.Add(1))
				startEventStream(w)
				if n > len(tc.conns) {
					return
				}
				for _, v := range tc.conns[n-1] {
					if v < 0 {
						fmt.Fprintf(w, "event: caught-up\ndata: %d\n\n", -v)
						continue
					}
					fmt.Fprintf(w, "id: %d\ndata: %s\n\n", v, eventJSON(uuid.NewSHA1(id, []byte(strconv.Itoa(v))), id, v, 10+v))
				}
			})
			msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{StreamID: id, From: tc.from, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0)
			if len(msgs) != tc.good || last == nil || !strings.Contains(last.Error(), "version "+tc.missed+" ") {
				t.Errorf("received %v, then %v; expected %d events, then an error naming version %s as missing", versions(msgs), last, tc.good, tc.missed)
			}
		})
	}
}

// TestAStreamSubscriptionIsNotMovedOnByAFrameWithoutAnEvent: an id-only
// frame moves a log subscription's resume point past events its filter
// leaves out; Tributary sends none on a stream, whose versions come
// without gaps, but one that came moved the stream's resume point too,
// and the events up to its id were then dropped as already delivered.
func TestAStreamSubscriptionIsNotMovedOnByAFrameWithoutAnEvent(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nid: 5\n\n") //nolint:errcheck // a test's answer
		for v := 1; v <= 3; v++ {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", v, eventJSON(uuid.New(), id, v, 10+v))
		}
	})
	msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{StreamID: id, MinBackoff: time.Millisecond}, 3)
	if got := versions(msgs); fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("received %v, then %v; expected versions 1 to 3", got, last)
	}
}

// TestSubscribeEndsAtAnEventBehindTheLastThatItNeverDelivered: a log
// subscription took any event behind the last one it delivered and before
// the first it still knew for a repeat, and dropped it, even where it
// knew it had delivered nothing: past its starting point, before the
// first event it delivered. A server that sends positions going backwards
// (5, then 3) had its event at 3 dropped without a word, in the first
// connection or after a resumption. Until the subscription has delivered
// more events than it knows again, every place after its starting point
// is known: such an event ends it with ErrLogReset, after 5. An event at
// or before the starting point is still no answer to it and dropped, as a
// replay from further back is.
func TestSubscribeEndsAtAnEventBehindTheLastThatItNeverDelivered(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		conns [][]replayed
		want  []int64 // positions delivered
		reset bool    // then ErrLogReset
	}{
		"3 after 5":                       {conns: [][]replayed{{{"log", 5}, {"log", 3}, {"log", 6}}}, want: []int64{5}, reset: true},
		"3 after a resumption at 5":       {conns: [][]replayed{{{"log", 5}}, {{"log", 3}, {"log", 6}}}, want: []int64{5}, reset: true},
		"1, before the start, then 5":     {conns: [][]replayed{{{"log", 1}, {"log", 5}, {"log", 6}}}, want: []int64{5, 6}},
		"5 again after a resumption at 5": {conns: [][]replayed{{{"log", 5}}, {{"log", 5}, {"log", 6}}}, want: []int64{5, 6}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := replayServer(t, uuid.New(), func(conn int) []replayed {
				if conn <= len(tc.conns) {
					return tc.conns[conn-1]
				}
				return []replayed{{"log", -1}}
			})
			msgs, last := subscribeFor(t, srv, 2*time.Second,
				SubscribeOptions{After: 2, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, len(tc.want)+1)
			got := positions(msgs)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || errors.Is(last, ErrLogReset) != tc.reset {
				t.Errorf("received %v, then %v; expected %v, then ErrLogReset: %v", got, last, tc.want, tc.reset)
			}
		})
	}
}

// TestAStreamsPositionsMustGrowWithItsVersions: a stream's later versions
// commit later, so their positions in the log grow with them; but a
// stream subscription, and ReadStream, checked the versions alone, and
// handed on an event whose position repeated the last one's or went back
// (a log restored under the client, resumed on; a server that sends
// another log's events) as the stream's next. A subscription now ends
// there with ErrLogReset, a read with an error, after every event before.
func TestAStreamsPositionsMustGrowWithItsVersions(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	for name, tc := range map[string]struct {
		// each connection's events: version, position; a resumption's
		// first is the event delivered last, sent again
		conns [][][2]int
		good  int // events delivered before the error; -1: every one
	}{
		"the same position":        {conns: [][][2]int{{{1, 11}, {2, 11}, {3, 13}}}, good: 1},
		"a position going back":    {conns: [][][2]int{{{1, 11}, {2, 12}, {3, 9}}}, good: 2},
		"no position":              {conns: [][][2]int{{{1, 0}}}, good: 0},
		"back after a resumption":  {conns: [][][2]int{{{1, 11}}, {{1, 11}, {2, 5}, {3, 6}}}, good: 1},
		"growing, with gaps":       {conns: [][][2]int{{{1, 11}, {2, 12}}, {{2, 12}, {3, 40}}}, good: -1},
		"backward, growing":        {conns: [][][2]int{{{3, 13}, {2, 12}, {1, 11}}}, good: -1},
		"backward, the same place": {conns: [][][2]int{{{3, 13}, {2, 13}, {1, 11}}}, good: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backward := strings.HasPrefix(name, "backward")
			event := func(e [2]int) string { return eventJSON(uuid.NewSHA1(id, []byte(fmt.Sprint(e))), id, e[0], e[1]) }
			resent := func(i int) bool { // connection i's first event is the last one's
				return i > 0 && len(tc.conns[i]) > 0 && len(tc.conns[i-1]) > 0 && tc.conns[i][0] == tc.conns[i-1][len(tc.conns[i-1])-1]
			}
			var conns atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(conns.Add(1))
				var evs []string
				if n <= len(tc.conns) {
					for _, e := range tc.conns[n-1] {
						evs = append(evs, event(e))
					}
				}
				if r.Header.Get("Accept") != "text/event-stream" {
					// ReadStream: every connection's events, one page each.
					var all []string
					for i := range tc.conns {
						for j, e := range tc.conns[i] {
							if j > 0 || !resent(i) {
								all = append(all, event(e))
							}
						}
					}
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"events":[%s]}`, strings.Join(all, ",")) //nolint:errcheck // a test's answer
					return
				}
				startEventStream(w)
				for i, e := range evs {
					fmt.Fprintf(w, "id: %d\ndata: %s\n\n", tc.conns[n-1][i][0], e)
				}
				if n > len(tc.conns) {
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				}
			})
			events := 0
			for i, c := range tc.conns {
				events += len(c)
				if resent(i) {
					events--
				}
			}
			if !backward {
				msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{StreamID: id, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, events)
				switch {
				case tc.good < 0 && (len(msgs) != events || last != nil):
					t.Errorf("Subscribe: versions %v, positions %v, then %v; expected every event", versions(msgs), positions(msgs), last)
				case tc.good >= 0 && (len(msgs) != tc.good || last == nil || errors.Is(last, context.DeadlineExceeded) || errors.Is(last, ErrLogReset) == (name == "no position")):
					// An event with no position is not Tributary's event,
					// whichever log it is from.
					t.Errorf("Subscribe: versions %v, positions %v, then %v; expected %d events, then ErrLogReset (an error of its own for no position)", versions(msgs), positions(msgs), last, tc.good)
				}
			}
			c := newClient(t, srv.URL)
			opts := ReadStreamOptions{}
			if backward {
				opts.Direction = Backward
			}
			got, last := readPositions(c.ReadStream(context.Background(), id, opts))
			switch {
			case tc.good < 0 && (len(got) != events || last != nil):
				t.Errorf("ReadStream: positions %v, then %v; expected every event", got, last)
			case tc.good >= 0 && (len(got) != tc.good || last == nil):
				t.Errorf("ReadStream: positions %v, then %v; expected %d events, then an error", got, last, tc.good)
			}
		})
	}
}
