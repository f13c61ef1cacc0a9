package main

import (
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
)

// TestReadyzsFeedBoundOutlastsALongPollInterval: /readyz says the live
// feed is stalled once it has not read the log for 30 s; a
// TRIBUTARY_POLL_INTERVAL longer than that (warned of, but taken) has the
// feed read the log only that often, and /readyz said it stalled between
// every two polls. The bound is three poll intervals where that is longer.
func TestReadyzsFeedBoundOutlastsALongPollInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		poll, want time.Duration
	}{
		{100 * time.Millisecond, 30 * time.Second},
		{5 * time.Second, 30 * time.Second},
		{20 * time.Second, time.Minute},
		{time.Minute, 3 * time.Minute},
	} {
		cfg := config.Defaults()
		cfg.PollInterval = tc.poll
		if got := feedStaleAfter(cfg); got != tc.want {
			t.Errorf("%s=%s: /readyz's bound on the live feed's last read is %s; want %s", config.Var("PollInterval"), tc.poll, got, tc.want)
		}
	}
}
