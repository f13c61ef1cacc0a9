package client

import (
	"math"
	"testing"
	"time"
)

// TestBackoffSaturatesAtMaxBackoff: the wait between reconnections
// doubled as backoff*2, which past half of math.MaxInt64 overflows: with
// MaxBackoff near the longest Duration, after about 34 failed attempts
// from the default 500 ms (at once from a large MinBackoff), the backoff
// went negative, and the next wait panicked in rand.N, or was none at all,
// a hot loop of reconnections. It now doubles up to MaxBackoff and stays
// there, whatever the two are.
func TestBackoffSaturatesAtMaxBackoff(t *testing.T) {
	t.Parallel()
	for _, most := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64/2 + 1, math.MaxInt64 / 2, 30 * time.Second, 1} {
		for _, from := range []time.Duration{1, 500 * time.Millisecond, math.MaxInt64/4 + 1, math.MaxInt64/2 + 1, most} {
			if from > most {
				continue
			}
			d := from
			for i := range 100 {
				next := doubled(d, most)
				if next <= 0 || next > most || next < d {
					t.Fatalf("from %v, up to %v: after attempt %d the backoff went from %v to %v; expected it between %v and %v", from, most, i+1, d, next, d, most)
				}
				d = next
			}
			if d != most {
				t.Errorf("from %v, up to %v: a backoff of %v after 100 attempts; expected MaxBackoff", from, most, d)
			}
		}
	}
}
