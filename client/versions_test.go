package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// logEntry is an event of a scripted log, as its stream and version.
type logEntry struct {
	stream  uuid.UUID
	version int
}

// TestAReadOfTheLogEndsAtAStreamsVersionOutOfTurn: in the log, each
// stream's events come at its versions 1, 2, 3 … in position order, without
// a gap. A read of the log whose server skipped one of them (a page cut
// short past a commit not yet visible, as the server did twice before its
// fixes), sent one again at another position, or started a stream past
// its first version, handed the consumer a stream with versions missing
// or repeated without a word: the positions, which may have holes, cannot
// tell. The read now ends at such an event, after every event before it.
// Where the read cannot know a stream's earlier versions (a start past
// After, a filter of event types, which leaves some out) only what it
// can tell is checked.
func TestAReadOfTheLogEndsAtAStreamsVersionOutOfTurn(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	for name, tc := range map[string]struct {
		opts  ReadAllOptions
		pages [][]logEntry // the log's pages, at positions after opts.After, in order
		good  int          // the events yielded before the error; -1: every one and no error
		says  string       // what the error says
	}{
		"streams interleaved, each without a gap": {
			pages: [][]logEntry{{{a, 1}, {b, 1}, {a, 2}}, {{b, 2}, {a, 3}}}, good: -1},
		"a version missing within a page": {
			pages: [][]logEntry{{{a, 1}, {b, 1}, {a, 3}}}, good: 2, says: "version 2 is missing"},
		"a version missing between pages": {
			pages: [][]logEntry{{{a, 1}, {a, 2}}, {{b, 1}, {a, 5}}}, good: 3, says: "versions 3 to 4 are missing"},
		"a version again, at another position, on the next page": {
			pages: [][]logEntry{{{a, 1}, {a, 2}}, {{a, 2}, {a, 3}}}, good: 2, says: "again or out of order"},
		"a version going back": {
			pages: [][]logEntry{{{a, 1}, {a, 2}, {a, 3}, {a, 1}}}, good: 3, says: "again or out of order"},
		"a stream met first past its version 1, from the log's start": {
			pages: [][]logEntry{{{a, 1}, {b, 2}}}, good: 1, says: "version 1 is missing"},
		"a stream met first past its version 1, after a position": {
			opts: ReadAllOptions{After: 10}, pages: [][]logEntry{{{a, 4}, {b, 2}}, {{a, 5}}}, good: -1},
		"a stream's versions in turn, after a position": {
			opts: ReadAllOptions{After: 10}, pages: [][]logEntry{{{a, 4}, {a, 6}}}, good: 1, says: "version 5 is missing"},
		"a filter of event types, which leaves versions out": {
			opts: ReadAllOptions{EventTypes: []string{"A"}}, pages: [][]logEntry{{{a, 2}, {a, 5}}, {{b, 3}, {a, 9}}}, good: -1},
		"a filter of event types, a version again": {
			opts: ReadAllOptions{EventTypes: []string{"A"}}, pages: [][]logEntry{{{a, 2}, {a, 5}}, {{a, 5}}}, good: 2, says: "again or out of order"},
		"a filter of stream types, which takes whole streams": {
			opts: ReadAllOptions{StreamTypes: []string{"order"}}, pages: [][]logEntry{{{a, 1}, {a, 3}}}, good: 1, says: "version 2 is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				// Page i is asked for after the last position of page i-1.
				after, _ := strconv.Atoi(r.URL.Query().Get("after"))
				pos, i := int(tc.opts.After), 0
				for ; i < len(tc.pages) && pos < after; i++ {
					pos += len(tc.pages[i])
				}
				var evs []string
				if i < len(tc.pages) {
					for _, e := range tc.pages[i] {
						pos++
						evs = append(evs, eventJSON(uuid.New(), e.stream, e.version, pos))
					}
					w.Header().Set("Link", fmt.Sprintf(`</events?after=%d>; rel="next"`, pos))
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"events":[%s]}`, strings.Join(evs, ",")) //nolint:errcheck // a test's answer
			})
			all := 0
			for _, p := range tc.pages {
				all += len(p)
			}
			read := c.ReadAll(context.Background(), tc.opts)
			// Twice: each iteration knows only its own events.
			for range 2 {
				got, last := readPositions(read)
				switch {
				case tc.good < 0 && (last != nil || len(got) != all):
					t.Fatalf("read %v, then %v; expected all %d events and no error", got, last, all)
				case tc.good >= 0 && (len(got) != tc.good || last == nil || !strings.Contains(last.Error(), tc.says)):
					t.Fatalf("read %v, then %v; expected %d events, then an error saying %q", got, last, tc.good, tc.says)
				}
			}
		})
	}
}

// TestAReadOfTheLogKnowsABoundedNumberOfStreams: what a read of the log
// holds to check versions is bounded: past recentStreams streams, the
// oldest is forgotten, and met again it is taken as met first, whatever
// its version, as is any stream from then on.
func TestAReadOfTheLogKnowsABoundedNumberOfStreams(t *testing.T) {
	t.Parallel()
	s := &streamVersions{last: map[uuid.UUID]int64{}, fromStart: true}
	ids := make([]uuid.UUID, recentStreams+1)
	for i := range ids {
		ids[i] = uuid.New()
		if why := s.next(&Event{StreamID: ids[i], Version: 1}); why != "" {
			t.Fatalf("stream %d at version 1: %s", i, why)
		}
	}
	if len(s.last) != recentStreams || len(s.ring) != recentStreams {
		t.Fatalf("%d streams known, %d in the ring; expected %d", len(s.last), len(s.ring), recentStreams)
	}
	if why := s.next(&Event{StreamID: ids[0], Version: 7}); why != "" {
		t.Errorf("the forgotten stream met again at version 7: %s; expected it taken as met first", why)
	}
	if why := s.next(&Event{StreamID: ids[len(ids)-1], Version: 3}); !strings.Contains(why, "version 2 is missing") {
		t.Errorf("a stream still known, at version 3 after 1: %q; expected version 2 missing", why)
	}
}

// TestALogSubscriptionEndsAtAStreamsVersionOutOfTurn: as a read of the
// log, a subscription to it handed on a stream's event that is not its
// next (a version skipped by the server, or sent again at another
// position) without a word; no resumption can mend it, the skipped event
// being behind the resume point. It now ends there, after every event
// before it, across resumptions as within a connection.
func TestALogSubscriptionEndsAtAStreamsVersionOutOfTurn(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	for name, tc := range map[string]struct {
		opts SubscribeOptions
		log  []logEntry // at positions after opts.After
		good int        // the events delivered before the error; -1: every one and no error
		says string
	}{
		"streams interleaved, each without a gap": {
			log: []logEntry{{a, 1}, {b, 1}, {a, 2}, {b, 2}, {a, 3}}, good: -1},
		"a version missing": {
			log: []logEntry{{a, 1}, {b, 1}, {a, 3}, {b, 2}}, good: 2, says: "version 2 is missing"},
		"a version missing after a resumption": {
			log: []logEntry{{a, 1}, {a, 2}, {b, 1}, {a, 5}}, good: 3, says: "versions 3 to 4 are missing"},
		"a version again": {
			log: []logEntry{{a, 1}, {a, 2}, {b, 1}, {a, 2}}, good: 3, says: "again or out of order"},
		"a stream met first past its version 1, from the log's start": {
			log: []logEntry{{a, 1}, {b, 3}}, good: 1, says: "versions 1 to 2 are missing"},
		"a stream met first past its version 1, after a position": {
			opts: SubscribeOptions{After: 10}, log: []logEntry{{a, 4}, {b, 3}, {a, 5}}, good: -1},
		"a filter of event types, which leaves versions out": {
			opts: SubscribeOptions{EventTypes: []string{"A"}}, log: []logEntry{{a, 2}, {a, 5}, {b, 3}, {a, 9}}, good: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				// Two events a connection, from the resume point on, each
				// with the same id on every connection.
				last, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
				last = max(last, int(tc.opts.After))
				startEventStream(w)
				for i := last - int(tc.opts.After); i < len(tc.log) && i < last-int(tc.opts.After)+2; i++ {
					pos := int(tc.opts.After) + i + 1
					fmt.Fprintf(w, "id: %d\ndata: %s\n\n", pos, eventJSON(uuid.NewSHA1(uuid.NameSpaceURL, []byte(strconv.Itoa(pos))), tc.log[i].stream, tc.log[i].version, pos)) //nolint:errcheck // a test's answer
				}
			})
			opts := tc.opts
			opts.MinBackoff, opts.MaxBackoff = time.Millisecond, 10*time.Millisecond
			want := len(tc.log)
			if tc.good >= 0 {
				want = 0 // till the error
			}
			msgs, last := subscribeFor(t, srv, 30*time.Second, opts, want)
			switch {
			case tc.good < 0 && (last != nil || len(msgs) != len(tc.log)):
				t.Errorf("received %v, then %v; expected all %d events and no error", positions(msgs), last, len(tc.log))
			case tc.good >= 0 && (len(msgs) != tc.good || last == nil || !strings.Contains(last.Error(), tc.says)):
				t.Errorf("received %v, then %v; expected %d events, then an error saying %q", positions(msgs), last, tc.good, tc.says)
			}
		})
	}
}
