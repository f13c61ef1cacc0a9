package fanout

import (
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// SetCatchUpTurn sets how long a place in the catch-up budget is held
// while others wait (catchUpTurn), before any subscription opens.
func SetCatchUpTurn(f *Feed, d time.Duration) { f.turn = d }

// SetClock sets the clock that the tailer measures a gap's patience on,
// before Run.
func SetClock(f *Feed, now func() time.Time) { f.now = now }

// CatchUpQueued reports how many subscriptions wait for a place in the
// catch-up budget (Feed.CatchUpWaiting).
func CatchUpQueued(f *Feed) int { return f.CatchUpWaiting() }

// Head reports the last position the feed has handed out, or followed with
// no subscription open.
func Head(f *Feed) int64 { return f.head.Load() }

// Rest reports, on its consumer's goroutine (after a Next or NextLive), the
// subscription's cursor and whether it is at rest there: started, caught
// up, reading the live buffer, with no read of the store in flight or due,
// and its cursor at the feed's head. What it delivers next, it can only
// deliver once the head moves: a test that sees it at rest at the log's
// last position has seen everything it will deliver of the log so far, a
// repeat included, without waiting for it.
func Rest(sub eventstore.Subscription) (int64, bool) {
	s := sub.(*Subscription)
	return s.cursor, s.started && s.caughtUp && s.live && !s.declined && s.inFlight == nil &&
		s.retryAt.IsZero() && s.cursor >= s.feed.head.Load()
}

// Waiting is Rest, caught up or not: started, reading the live buffer,
// with no read of the store in flight or due, and its cursor at the
// feed's head. One not caught up yet waits there for the head to move to
// its target: a test that sees it so has seen everything it will read
// before the head moves.
func Waiting(sub eventstore.Subscription) (int64, bool) {
	s := sub.(*Subscription)
	return s.cursor, s.started && s.live && !s.declined && s.inFlight == nil &&
		s.retryAt.IsZero() && s.cursor >= s.feed.head.Load()
}

// BackingOff reports, on its consumer's goroutine, whether sub waits out
// the back-off after a failed read of the store: Ready waits for the
// retry's time, and no read is in flight.
func BackingOff(sub eventstore.Subscription) bool {
	s := sub.(*Subscription)
	return !s.retryAt.IsZero() && s.inFlight == nil && s.wait != (<-chan struct{})(closed)
}
