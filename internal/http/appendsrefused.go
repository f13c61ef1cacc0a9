package http

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// refusingCauses are the store errors' causes (storeCause) of a database
// that refuses every append while it serves reads and answers /readyz's
// ping, each with what /readyz says of it. A fixed text, never the error's:
// /readyz needs no token.
var refusingCauses = map[string]string{
	metrics.CauseFull: "The database is full: every append is refused until an operator frees space on its disk " +
		"(or, for MySQL, lets its tablespace grow; for the embedded store, raises a quota used up).",
	metrics.CauseNotDurable: "The database's server runs with settings that do not make commits durable (a crash of it could " +
		"lose acknowledged appends): every append is refused until an operator fixes them (the server's log names them).",
	metrics.CauseStorageFailed: "The database's storage failed (an I/O error on its files, or no writable directory for its temporary " +
		"files): appends are refused until an operator mends it (the server's log says what failed; the first append written again clears this).",
	metrics.CauseRefused: "The database refuses the service's user or its writes (a privilege revoked, the account locked, " +
		"the server read-only): appends are refused until an operator mends it (the server's log says how).",
}

// refusingCause is the cause of refusingCauses that err, an append's
// error, says appends are refused for, "" if none. An append of unknown
// outcome is counted as one (storeCause), whatever failed beneath it; but
// where what failed is a full disk or failed storage (the embedded store's
// COMMIT whose WAL index could not grow, or whose sync failed, for want of
// room), every append after it fails alike until an operator mends it, and
// /readyz must say so as for the same failure before COMMIT.
func refusingCause(err error) string {
	cause := storeCause(err)
	if cause == metrics.CauseOutcomeUnknown {
		switch {
		case errors.Is(err, eventstore.ErrStorageFailed):
			cause = metrics.CauseStorageFailed
		case errors.Is(err, eventstore.ErrFull):
			cause = metrics.CauseFull
		}
	}
	if _, ok := refusingCauses[cause]; !ok {
		return ""
	}
	return cause
}

// causeUnwrittenColumn is /readyz's cause for appends refused by a column
// of the store's tables that it does not write, NOT NULL and without a
// default, which the store's Ping found (not an append's: it is not a
// cause tributary_store_errors_total counts).
const causeUnwrittenColumn = "unwritten_column"

// unwrittenRefuses says which appends a column of table that the store
// does not write refuses: a column of streams, only those that create a
// stream (an append to a stream already there updates its row).
func unwrittenRefuses(table string) string {
	if table == "streams" {
		return "appends that create a stream are refused (appends to a stream already there are written)"
	}
	return "every append is refused"
}

// refusedFor is how long /readyz says appends are refused after the last
// refused append this instance answered. An instance that gets no more
// appends learns nothing more: past it, a refusal would be said for ever
// after its cause was mended (a disk freed, settings put back), and an
// operator's alert on it would never clear. An instance that keeps getting
// appends keeps renewing it for as long as they are refused.
const refusedFor = time.Minute

// appendsRefused is what /readyz says of appends: refused, and why, from
// the appends this instance answered, until one is written again or none
// is refused for refusedFor. A full disk, or a MySQL server restarted with
// unsafe durability settings, refuses every append while reads go on and
// the store's ping answers, so /readyz stays 200 (a 503 would take this
// instance's reads out of the load balancer, and every instance on the
// database is refused alike).
//
// Outcomes are ordered by the store's writer, which decides one at a time
// (eventstore.WithOutcomeOrder), not by when their handlers note them: a
// handler may run late after its answer. A refusal decided before a write
// is older news, and a write decided before a refusal does not clear it.
// An outcome the store decided without its writer (order 0: refused before
// it) is ordered as before: a refusal of an append begun before the latest
// noted is older news; a write clears every refusal noted before it.
type appendsRefused struct {
	began atomic.Uint64 // appends begun (begin): each one's ticket
	// held is the latest ticket of the appends whose outcome was noted,
	// written the latest writer's order of a write noted: each only grows.
	held, written atomic.Int64
	// refusing is cause != "", read without mu: a write, where none is
	// refused (almost every one), takes no lock.
	refusing atomic.Bool
	mu       sync.Mutex
	refusal  int64     // the writer's order of the refusal noted last (or of the latest write noted before it, for an order 0)
	cause    string    // "" while appends are written
	since    time.Time // the first refusal of cause in a row
	last     time.Time // the last refusal of cause
	// now is the clock, time.Now unless a test moves it.
	now func() time.Time
}

func (a *appendsRefused) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// begin returns the ticket of an append about to be sent to the store,
// for note.
func (a *appendsRefused) begin() int64 { return int64(a.began.Add(1)) }

// raise makes v at least n.
func raise(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// note records the outcome of the append of ticket, decided in the
// writer's order (0 if not by the writer): err, its store's error, nil for
// one that wrote. A retry of a stored batch (which writes nothing) and an
// error of no refusing cause are not noted.
func (a *appendsRefused) note(ticket, order int64, err error) {
	if err == nil {
		a.wrote(ticket, order)
		return
	}
	cause := refusingCause(err)
	if cause == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if order > 0 && order < a.written.Load() || order == 0 && ticket < a.held.Load() {
		return // a write was decided after it, or (not ordered) one begun after it was noted
	}
	raise(&a.held, ticket)
	if order == 0 {
		order = a.written.Load() // decided now: after every write noted
	}
	a.refusal = max(a.refusal, order)
	now := a.clock()
	if cause != a.cause || now.Sub(a.last) > refusedFor {
		a.since = now // a new row: the last one's was no more said
	}
	a.cause, a.last = cause, now
	a.refusing.Store(true)
	if a.written.Load() > a.refusal {
		// A write decided after it, noted as this one was: it found
		// refusing unset, so it is said here.
		a.cause = ""
		a.refusing.Store(false)
	}
}

// wrote records a write: it clears the refusal noted unless the writer
// decided that refusal after it.
func (a *appendsRefused) wrote(ticket, order int64) {
	raise(&a.held, ticket)
	raise(&a.written, order)
	if !a.refusing.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cause == "" || order > 0 && order < a.refusal {
		return
	}
	a.cause = ""
	a.refusing.Store(false)
}

// state returns the cause appends are refused for now, and since when; ""
// if they are not, or if no append was refused for refusedFor.
func (a *appendsRefused) state() (cause string, since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cause == "" || a.clock().Sub(a.last) > refusedFor {
		return "", time.Time{}
	}
	return a.cause, a.since
}
