package http

import (
	"sync"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// standingWindow is how long, after a standing condition's "request failed"
// line, the others of its cause are not logged but counted (standingLog).
const standingWindow = 10 * time.Second

// standingCauses are the store errors' causes (storeCause) of a standing
// condition of the database: every request meets the same one until an
// operator acts or it passes (a full disk, unsafe durability settings, an
// address that does not answer, a damaged or missing file or table, the
// service's user refused), and each logs its start elsewhere (/readyz, the
// live feed, the store). Not the catch-all "unavailable", whose errors may
// each be a new kind, nor outcome_unknown, each of which is an append to
// reconcile, nor a timeout, whose error says what each waited for (a
// request waits its whole time: no flood).
var standingCauses = map[string]bool{
	metrics.CauseUnreachable: true, metrics.CauseFull: true,
	metrics.CauseDamaged: true, metrics.CauseOverwritten: true, metrics.CauseRestartNeeded: true,
	metrics.CauseNotDurable: true, metrics.CauseMissing: true, metrics.CauseRefused: true,
}

// standingLog keeps the "request failed" lines of a standing condition to
// one per cause in each standingWindow: through a full disk, a client
// retrying after Retry-After wrote two ERROR lines a request, thousands a
// minute, onto the disk that was full. Each request keeps its access line
// (at WARN for those not logged); the metrics count every one.
type standingLog struct {
	mu    sync.Mutex
	now   func() time.Time // time.Now; a test's clock
	cause map[string]*standingCause
}

type standingCause struct {
	logged   time.Time // when its last "request failed" line was logged
	unlogged int       // requests of the cause failed since, not logged
}

// note records a request failed for cause, a standing one: log reports
// whether its "request failed" line is to be logged, and unlogged how many
// of the cause were not logged since the last that was (0 for the first).
func (l *standingLog) note(cause string) (log bool, unlogged int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	c, ok := l.cause[cause]
	if !ok {
		if l.cause == nil {
			l.cause = map[string]*standingCause{}
		}
		l.cause[cause] = &standingCause{logged: now}
		return true, 0
	}
	if now.Sub(c.logged) < standingWindow {
		c.unlogged++
		return false, 0
	}
	unlogged = c.unlogged
	c.logged, c.unlogged = now, 0
	return true, unlogged
}
