package http

import (
	"log/slog"
	"testing"
	"time"
)

// TestAResponseWhoseWriteEndsAsItIsJudgedIsNotCut: at a bound, a response
// whose write has waited SilentGrace is judged by what its client took
// since that write began (ackedAtWrite). The search read when the write
// began, then what the client has taken, then what it had taken at the
// write's start: a write that ended, and the next that began, in between
// (a steady reader's response goes on in many writes) gave the new
// write's start with the old one's time, nothing taken over seconds, and
// the response of a client reading steadily was cut. A write seen to
// change while it is judged is not judged (it is not waiting).
func TestAResponseWhoseWriteEndsAsItIsJudgedIsNotCut(t *testing.T) {
	c := NewConnections(10, 10, slog.New(slog.DiscardHandler), nil)
	now := time.Now()
	tc := &trackedConn{c: c, client: "10.0.0.1"}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clients["10.0.0.1"] = &connClient{open: 1}
	c.open++
	c.wait(tc, responding)
	tc.since = now.Add(-time.Minute)
	// A write begun 10 s ago, when the client had taken 1 MB, ...
	tc.ackedAtWrite.Store(1 << 20)
	tc.writingSince.Store(now.Add(-10 * time.Second).UnixNano())
	tc.acked = func() (uint64, bool) {
		// ... which ends as it is judged, the client having taken 9 MB
		// since (900 KB/s): the next write begins at once.
		const taken = 10 << 20
		tc.ackedAtWrite.Store(taken)
		tc.writingSince.Store(now.UnixNano())
		return taken, true
	}
	if v := victim(c.lists(), now, SilentGrace, nil); v == tc {
		t.Errorf("a response whose client took 9 MB in 10 s, its write ending as it was judged, was the one to cut; want none")
	}
}
