package fanout

import "time"

// SetCatchUpTurn sets how long a place in the catch-up budget is held
// while others wait (catchUpTurn), before any subscription opens.
func SetCatchUpTurn(f *Feed, d time.Duration) { f.turn = d }

// CatchUpQueued reports how many subscriptions wait for a place in the
// catch-up budget.
func CatchUpQueued(f *Feed) int {
	f.catchUp.mu.Lock()
	defer f.catchUp.mu.Unlock()
	return len(f.catchUp.queue)
}

// Head reports the last position the feed has handed out, or followed with
// no subscription open.
func Head(f *Feed) int64 { return f.head.Load() }
