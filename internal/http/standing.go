package http

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// standingWindow is how long, after a standing condition's "request failed"
// line, the others with its error are not logged but counted (standingLog).
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

// standingKeys is how many distinct errors standingLog keeps a window
// for: past them, the one whose line is oldest is forgotten (its next is
// logged again). A bound on memory only: each distinct damage is still
// logged at least once.
const standingKeys = 64

// standingReopen is how long after its last line an error of a condition
// that an append written has ended (endedByAWrite) is logged again at
// once: a disk with a little room, where small appends pass and larger
// ones fail by turns, logs one line a second, not one a failure.
const standingReopen = time.Second

// endedByAWrite are the standing causes that refuse every append: one
// written shows that each has ended (a disk freed, settings put back, the
// address answering, the user let in again), so the first error of its
// next episode is logged at once. Not a damaged stream nor a missing table
// or column, of which an append elsewhere proves nothing.
var endedByAWrite = map[string]bool{
	metrics.CauseUnreachable: true, metrics.CauseFull: true, metrics.CauseOverwritten: true,
	metrics.CauseRestartNeeded: true, metrics.CauseNotDurable: true, metrics.CauseRefused: true,
}

// standingLog keeps the "request failed" lines of a standing condition to
// one per distinct error in each standingWindow: through a full disk, a
// client retrying after Retry-After wrote two ERROR lines a request,
// thousands a minute, onto the disk that was full. Each request keeps its
// access line (at WARN for those not logged); the metrics count every one.
// The window is the error's (standingKey), not its cause's: a second
// damage of the same cause (another stream's missing row, a table missing
// after a column) is logged at once, as it may be said nowhere else.
type standingLog struct {
	mu   sync.Mutex
	now  func() time.Time // time.Now; a test's clock
	keys map[string]*standingError
}

type standingError struct {
	cause    string
	logged   time.Time // when its last "request failed" line was logged
	unlogged int       // requests of the error failed since, not logged
	ended    bool      // an append was written since: its condition ended (endedByAWrite)
}

// note records a request failed with err, of cause, a standing one: log
// reports whether its "request failed" line is to be logged, and unlogged
// how many like it were not logged since the last that was (0 for the
// first).
func (l *standingLog) note(cause string, err error) (log bool, unlogged int) {
	key := standingKey(cause, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	c, ok := l.keys[key]
	if !ok {
		if l.keys == nil {
			l.keys = map[string]*standingError{}
		}
		if len(l.keys) >= standingKeys {
			l.forgetOldest()
		}
		l.keys[key] = &standingError{cause: cause, logged: now}
		return true, 0
	}
	since := now.Sub(c.logged)
	if since < standingWindow && (!c.ended || since < standingReopen) {
		c.unlogged++
		return false, 0
	}
	unlogged = c.unlogged
	c.logged, c.unlogged, c.ended = now, 0, false
	return true, unlogged
}

// forgetOldest forgets the error whose line was logged longest ago (its
// count of those not logged with it: their access lines and the metrics
// still count them).
func (l *standingLog) forgetOldest() {
	var oldest string
	var at time.Time
	for k, c := range l.keys {
		if oldest == "" || c.logged.Before(at) {
			oldest, at = k, c.logged
		}
	}
	delete(l.keys, oldest)
}

// written records an append written: the window of each error whose
// condition refuses every append ends (endedByAWrite), and the next of it
// is logged (no sooner than standingReopen after its last line), with the
// count of those not logged before: a new episode's first error is not
// hidden by the last one's window.
func (l *standingLog) written() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.keys {
		if endedByAWrite[c.cause] {
			c.ended = true
		}
	}
}

// standingNumbers are the numbers in an error's words (positions, ports,
// durations such as a stall's "has not answered for 5.3s"), which differ
// from one request to the next of the same condition; a UUID (the stream
// whose row is missing) is matched first and kept: each stream's damage
// is its own.
var standingNumbers = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]+`)

// standingKey is what tells err, of cause, from another error of the
// cause: the store's error without the request's own context wrapped
// around it ("append to <its stream>: ", "read stream <id>: "), its
// numbers made one.
func standingKey(cause string, err error) string {
	text := err.Error()
	for {
		// A wrapper that only put words before its one error's is the
		// request's context; a leaf (a sentinel, the driver's error) is
		// kept with what the store said of it.
		inner := errors.Unwrap(err)
		if inner == nil || !wraps(inner) {
			break
		}
		t := inner.Error()
		if !strings.HasSuffix(text, t) {
			break
		}
		err, text = inner, t
	}
	text = standingNumbers.ReplaceAllStringFunc(text, func(m string) string {
		if len(m) == 36 && strings.Count(m, "-") == 4 {
			return m
		}
		return "#"
	})
	return cause + "\n" + text
}

// wraps reports whether err wraps another error (or several).
func wraps(err error) bool {
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		return e.Unwrap() != nil
	case interface{ Unwrap() []error }:
		return len(e.Unwrap()) > 0
	}
	return false
}
