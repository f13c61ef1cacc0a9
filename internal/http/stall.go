package http

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// connKey is the context key of the connection a request came on.
type connKey struct{}

// ConnContext records each connection in its requests' context, so that a
// subscription can tell a slow client from a stalled one. Set it as the
// http.Server's ConnContext; without it, a subscription is cut after
// StallTimeout of one blocked write, however much the client took meanwhile.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// stallGuard bounds a subscription's writes by progress rather than by
// time. A blocked write returns only once the kernel has room for more, which
// a reader slower than the socket's queue (megabytes) may take minutes to
// make; so while a write is blocked, the guard looks at how many bytes the
// client has acknowledged, and moves the deadline on as long as that grows.
// A client that takes nothing for the timeout is cut.
type stallGuard struct {
	// setDeadline sets the write deadline of the connection: through
	// net/http's ResponseController, or on the connection itself once a
	// subscription has taken it over (useConn).
	setDeadline func(time.Time) error
	acked       func() (uint64, bool) // nil where the connection cannot tell

	mu       sync.Mutex
	timeout  time.Duration // shortened once the subscription ends (ending)
	interval time.Duration
	closing  bool // ending was called
	revoked  bool // revoke was called: writes but the ending's are cut
	writing  bool
	cut      bool // the pending write was cut short: do not extend it
	// owned: the subscription has taken the connection over (useConn).
	// There a write that is one attempt which never waits (a live
	// subscription's, see eventWriter.write) needs no guard, and end
	// clears the deadline begin set, so that such a write never meets a
	// deadline left over from an earlier one. armed: a deadline is set.
	owned, armed bool
	busy         bool // between begin and end
	known        bool // last is the count since this write began
	last         uint64
	timer        *time.Timer

	// contended, set for a write that holds a place in the catch-up budget
	// (underPlace) until end, reports whether other subscriptions wait for
	// one: the client's progress then buys the write no more time.
	contended func() bool

	// Between writes (waitStalled): queued reports the bytes written that
	// the client's socket still holds (nil where it cannot tell); idleAcked
	// is the acknowledged count since idleSince, the first look that found
	// bytes queued (idleKnown); idleCut: the client was found stalled there,
	// and every write from now on is cut at once.
	queued    func() (int, bool)
	idleAcked uint64
	idleSince time.Time
	idleKnown bool
	idleCut   bool
}

func newStallGuard(w http.ResponseWriter, r *http.Request, timeout time.Duration) *stallGuard {
	g := &stallGuard{setDeadline: http.NewResponseController(w).SetWriteDeadline, timeout: timeout, interval: stallInterval(timeout)}
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		g.acked, g.queued = ackedBytes(c), queuedBytes(c)
	}
	return g
}

// waitStalled judges the client where its subscription waits rather than
// writes (for a place in the catch-up budget, a read of the store, the
// next event): a blocked write is judged by begin's guard, but a client
// whose socket still took the last write was never judged, and a stalled
// one read page after page of history into its socket's buffers
// (megabytes), waiting its turn for each. It reports true, and cuts every
// write from now on, once bytes written to the client have waited in its
// socket for the stall timeout with none of them taken.
func (g *stallGuard) waitStalled(now time.Time) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idleCut {
		return true
	}
	if g.acked == nil || g.queued == nil || g.busy {
		return false
	}
	// An idle subscriber's socket holds nothing: one system call, not two.
	q, qok := g.queued()
	if !qok || q == 0 {
		g.idleKnown = false // it took everything: nothing to judge
		return false
	}
	n, aok := g.acked()
	if !aok {
		g.idleKnown = false
		return false
	}
	if !g.idleKnown || n != g.idleAcked {
		g.idleAcked, g.idleSince, g.idleKnown = n, now, true
		return false
	}
	if now.Sub(g.idleSince) < g.timeout {
		return false
	}
	g.idleCut = true
	return true
}

// stallInterval is how often a blocked write looks at the client's progress.
func stallInterval(timeout time.Duration) time.Duration {
	return max(min(timeout/4, time.Second), 10*time.Millisecond)
}

// closingStall bounds the writes that end a subscription at shutdown (its
// last frames and the closing chunk), which shutdown does not cut: a client
// that takes no byte for that long is cut then, rather than hold the
// shutdown for the whole stall timeout; one that reads gets its clean end.
const closingStall = 2 * time.Second

// ending shortens the stall timeout of the writes from now on to
// closingStall: the subscription is ending.
func (g *stallGuard) ending() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endingLocked()
}

func (g *stallGuard) endingLocked() {
	g.closing = true
	g.timeout = min(g.timeout, closingStall)
	// Looked at often: the deadline moves at the first look after the
	// client took bytes, which must come well before it.
	g.interval = max(g.timeout/8, 10*time.Millisecond)
}

// useConn sets deadlines on c from now on: the subscription writes to it
// directly, net/http no longer has it.
func (g *stallGuard) useConn(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setDeadline = c.SetWriteDeadline
	// A hijacked connection "may have read or write deadlines already
	// set" (http.Hijacker): the first write clears them.
	g.owned, g.armed = true, true
}

// disarmed reports whether the connection is the subscription's own and has
// no deadline set: a write that cannot wait may then go without begin.
func (g *stallGuard) disarmed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.owned && !g.armed
}

// begin puts the writes until end under the guard: a subscription guards a
// batch of frames and its flush as one.
func (g *stallGuard) begin() { g.start(false) }

// beginLate is begin for the rest of a write whose first attempt went without
// the guard (disarmed): a stop that came meanwhile stands, rather than be
// replaced by a deadline StallTimeout away. (cut is set on a disarmed
// connection only by a stop since the attempt: stop arms it, and end clears
// both.)
func (g *stallGuard) beginLate() { g.start(true) }

func (g *stallGuard) start(late bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if late && g.cut {
		return // stop set the deadline to now
	}
	if (g.revoked && !g.closing) || g.idleCut {
		g.cut, g.armed, g.busy = true, true, true
		g.setDeadline(time.Now()) //nolint:errcheck
		return
	}
	g.cut, g.armed, g.busy = false, true, true
	g.setDeadline(time.Now().Add(g.timeout)) //nolint:errcheck // unsupported only off a real connection
	if g.acked != nil {
		// The acknowledged count is read at the first check, not here: most
		// writes end before it, and each read is a system call. A stalled
		// client is still cut at the timeout; a steady one is credited
		// from the second check on, well before it. An ending
		// subscription's few writes have too short a timeout for that:
		// theirs is read now, so that progress from the start counts.
		g.writing, g.known = true, false
		if g.closing {
			g.last, g.known = g.acked()
		}
		if g.timer == nil {
			g.timer = time.AfterFunc(g.interval, g.check)
		} else {
			g.timer.Reset(g.interval)
		}
	}
}

// end ends what begin started.
func (g *stallGuard) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy, g.contended = false, nil
	if g.timer != nil { // none before a first begin, or a late one that found a cut
		g.writing = false
		g.timer.Stop()
	}
	if g.owned && g.armed {
		g.setDeadline(time.Time{}) //nolint:errcheck
		g.cut, g.armed = false, false
	}
}

// check moves the deadline on if the client took bytes since the last look.
func (g *stallGuard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.writing || g.cut {
		return
	}
	if n, ok := g.acked(); ok && (!g.known || n != g.last) {
		if g.known && (g.contended == nil || !g.contended()) {
			g.setDeadline(time.Now().Add(g.timeout)) //nolint:errcheck
		}
		g.last, g.known = n, true
	}
	g.timer.Reset(g.interval)
}

// underPlace marks the writes until end as holding a place in the catch-up
// budget, which contended says others wait for. A page read under a place
// ends after a turn, but only between events: a client that takes a few
// bytes at a time, never the stall timeout without any, kept the place for
// the whole write of one large event (a megabyte at 20 KB/s: close to a
// minute), and every subscription waiting for a place waited that long.
// While others wait, the write has the stall timeout from the last time it
// was given more, however many bytes its client takes; it resumes with
// Last-Event-ID.
func (g *stallGuard) underPlace(contended func() bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.busy {
		g.contended = contended
	}
}

// hurry gives a pending write, and those after it, closingStall from now
// rather than the stall timeout: writes that must not be cut (a response's
// first), at shutdown.
func (g *stallGuard) hurry() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endingLocked()
	if g.busy {
		g.setDeadline(time.Now().Add(g.timeout)) //nolint:errcheck
	}
}

// revoke ends a pending write now, and cuts each later one as it begins,
// but the writes of the response's end (ending): the subscription's token
// was removed. An idle connection's deadline is left as it is: the
// response may still end cleanly, and a connection kept alive after it
// must not keep a deadline of now.
func (g *stallGuard) revoke() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked = true
	if g.busy && !g.closing {
		g.cut, g.armed = true, true
		g.setDeadline(time.Now()) //nolint:errcheck
	}
}

// stop ends a pending write now (shutdown); a later write, such as the
// response's clean end, gets a deadline of its own, of closingStall.
func (g *stallGuard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cut, g.armed = true, true
	g.setDeadline(time.Now()) //nolint:errcheck
	g.endingLocked()
}
