package http

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// standingWindow is how long, after a standing condition's "request failed"
// line, the others with its error are not logged but counted (standingLog).
const standingWindow = 10 * time.Second

// standingCauses are the store errors' causes (storeCause) of a standing
// condition of the database: every request meets the same one until an
// operator acts or it passes (a full disk or a failed one, unsafe durability settings, an
// address that does not answer, a damaged or missing file or table, the
// service's user refused), and each logs its start elsewhere (/readyz, the
// live feed, the store). Not the catch-all "unavailable", whose errors may
// each be a new kind, nor outcome_unknown, each of which is an append to
// reconcile, nor a timeout, whose error says what each waited for (a
// request waits its whole time: no flood).
var standingCauses = map[string]bool{
	metrics.CauseUnreachable: true, metrics.CauseFull: true,
	metrics.CauseDamaged: true, metrics.CauseOverwritten: true, metrics.CauseRestartNeeded: true,
	metrics.CauseNotDurable: true, metrics.CauseMissing: true, metrics.CauseRefused: true, metrics.CauseStorageFailed: true,
	metrics.CauseReplicaOtherLog: true,
}

// standingKeys is how many distinct errors standingLog keeps a window
// for. A window whose time is over is forgotten to make room (its next is
// logged anyway; only its count of those not logged since its line is
// lost, which their access lines and the metrics still count); past the
// bound otherwise, the new errors of a cause share one window (its key the
// cause alone), so many kinds met by turns are still logged once a window,
// not once a request as forgetting a window still running would make them.
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
// or column, of which an append elsewhere proves nothing; and only for an
// error an append met (standingError.appends): a read replica's, which
// reads alone meet, is not ended by a write to the primary.
var endedByAWrite = map[string]bool{
	metrics.CauseUnreachable: true, metrics.CauseFull: true, metrics.CauseOverwritten: true,
	metrics.CauseRestartNeeded: true, metrics.CauseNotDurable: true, metrics.CauseRefused: true, metrics.CauseStorageFailed: true,
}

// standingLog keeps the "request failed" lines of a standing condition to
// one per distinct error in each standingWindow: through a full disk, a
// client retrying after Retry-After wrote two ERROR lines a request,
// thousands a minute, onto the disk that was full. Each request keeps its
// access line (at WARN for those not logged); the metrics count every one.
// The window is the error's (standingKey), not its cause's: a second
// damage of the same cause (a table missing after a column) is logged at
// once, as it may be said nowhere else. The same damage of many objects
// (thousands of streams lacking their row after a restore) is one: its
// first line names one and the statement that mends them all, and each
// next, a window later, counts those not logged.
type standingLog struct {
	// toEnd is whether a window is kept that an append written would end
	// (written): set under mu, read without it, so that the common
	// append, with none, takes no process-wide lock.
	toEnd atomic.Bool
	mu    sync.Mutex
	now   func() time.Time // time.Now; a test's clock
	keys  map[string]*standingError
}

type standingError struct {
	cause    string
	logged   time.Time // when its last "request failed" line was logged
	unlogged int       // requests of the error failed since, not logged
	ended    bool      // an append was written since: its condition ended (endedByAWrite)
	appends  bool      // an append met it (appendError), not only reads: a write can end it
}

// note records a request failed with err, of cause, a standing one: log
// reports whether its "request failed" line is to be logged, and unlogged
// how many like it were not logged since the last that was (0 for the
// first).
func (l *standingLog) note(cause string, err error) (log bool, unlogged int) {
	key := standingKey(cause, err)
	var ae *appendError
	byAppend := errors.As(err, &ae)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	c, ok := l.keys[key]
	if !ok && len(l.keys) >= standingKeys {
		l.forgetEnded(now)
		if len(l.keys) >= standingKeys {
			// No room: the cause's one window for the errors past the
			// bound (no "\n" in it: no error's key).
			key = cause
			c, ok = l.keys[key]
		}
	}
	if !ok {
		if l.keys == nil {
			l.keys = map[string]*standingError{}
		}
		c = &standingError{cause: cause, logged: now, appends: byAppend}
		l.keys[key] = c
		l.endable(c)
		return true, 0
	}
	c.appends = c.appends || byAppend
	defer l.endable(c) // after what follows: it may begin a new window
	since := now.Sub(c.logged)
	if since < standingWindow && (!c.ended || since < standingReopen) {
		c.unlogged++
		return false, 0
	}
	unlogged = c.unlogged
	c.logged, c.unlogged, c.ended = now, 0, false
	return true, unlogged
}

// forgetEnded forgets the errors whose window is over: the next of each is
// logged as it would have been, without the count of those not logged
// before it (standingKeys).
func (l *standingLog) forgetEnded(now time.Time) {
	for k, c := range l.keys {
		if now.Sub(c.logged) >= standingWindow {
			delete(l.keys, k)
		}
	}
}

// endable notes, under mu, that c is a window an append written ends.
func (l *standingLog) endable(c *standingError) {
	if c.appends && endedByAWrite[c.cause] && !c.ended {
		l.toEnd.Store(true)
	}
}

// written records an append written: the window of each error an append
// met whose condition refuses every append ends (endedByAWrite), and the
// next of it is logged (no sooner than standingReopen after its last
// line), with the count of those not logged before: a new episode's first
// error is not hidden by the last one's window. Where there is none, as
// on almost every append, it takes no lock. The windows it walks that are
// over, with none not logged to count, are forgotten: the next of each is
// logged at once, as it would have been.
func (l *standingLog) written() {
	if !l.toEnd.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	l.toEnd.Store(false)
	for k, c := range l.keys {
		if now.Sub(c.logged) >= standingWindow && c.unlogged == 0 {
			delete(l.keys, k)
			continue
		}
		if c.appends && endedByAWrite[c.cause] {
			c.ended = true
		}
	}
}

// standingNumbers are the numbers and ids in an error's words (positions,
// ports, durations such as a stall's "has not answered for 5.3s", the
// stream whose row is missing), which differ from one request to the next
// of the same condition. A UUID is matched whole first: its letters would
// tell one stream's error from another's.
var standingNumbers = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]+`)

// standingKey is what tells err, of cause, from another error of the
// cause: the store's error without the request's own context wrapped
// around it ("append to <its stream>: ", "read stream <id>: "), its
// numbers and ids made one.
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
	return cause + "\n" + standingNumbers.ReplaceAllString(text, "#")
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
