package fanout

import "time"

// SetCatchUpTurn sets how long a place in the catch-up budget is held
// while others wait (catchUpTurn), before any subscription opens.
func SetCatchUpTurn(f *Feed, d time.Duration) { f.turn = d }
