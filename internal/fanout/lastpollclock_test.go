package fanout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestLastPollIsMeasuredOnTheMonotonicClock: LastPoll was made from Unix
// nanoseconds, a wall-clock reading alone, so that /readyz's time.Since of
// it moved with every step of the wall clock: NTP stepping it an hour
// forward said at once that the live feed had stalled (logged at WARN on
// every instance), an hour back hid a real stall for that hour. LastPoll
// now carries the monotonic reading of the feed's last good read, the one
// time.Since and Sub measure on: a step of the wall clock does not move
// it (time.Time's String shows that reading as "m=").
func TestLastPollIsMeasuredOnTheMonotonicClock(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		before := time.Now()
		feed := fanout.New(store, fanout.Options{PollInterval: time.Millisecond})
		if last := feed.LastPoll(); !strings.Contains(last.String(), " m=") || last.Before(before) {
			t.Errorf("LastPoll of a feed not yet run: %s; want the feed's making (after %s), with a monotonic reading (m=)", last, before)
		}
		started := time.Now()
		feed = runFeed(t, store, fanout.Options{PollInterval: time.Millisecond})
		untilSettled(t, "the feed to read the log after its start", func() bool { return feed.LastPoll().After(started) })
		last := feed.LastPoll()
		if !strings.Contains(last.String(), " m=") {
			t.Errorf("LastPoll after the feed's reads: %s; want a monotonic reading (m=), so that a step of the wall clock does not move it", last)
		}
		if d := time.Since(last); d < 0 {
			t.Errorf("time.Since(LastPoll()) = %s; want it not negative", d)
		}
	})
}
