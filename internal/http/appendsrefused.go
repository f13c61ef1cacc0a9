package http

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// refusingCauses are the store errors' causes (storeCause) of a database
// that refuses every append while it serves reads and answers /readyz's
// ping, each with what /readyz says of it. A fixed text, never the error's:
// /readyz needs no token.
var refusingCauses = map[string]string{
	metrics.CauseFull: "The database is full: every append is refused until an operator frees space on its disk or lets " +
		"its tablespace grow.",
	metrics.CauseNotDurable: "The database's server runs with settings that do not make commits durable (a crash of it could " +
		"lose acknowledged appends): every append is refused until an operator fixes them (the server's log names them).",
	metrics.CauseRefused: "The database refuses the service's user or its writes (a privilege revoked, the account locked, " +
		"the server read-only): appends are refused until an operator mends it (the server's log says how).",
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
type appendsRefused struct {
	began atomic.Uint64 // appends begun (begin): each one's ticket
	mu    sync.Mutex
	// held is the latest ticket of the appends whose outcome was noted: a
	// refusal of one begun before it is older news, whenever it is
	// answered (a refusal that waited on the database, answered after a
	// later append was written, said appends were refused while they were
	// written). A write is not: whenever it began, it was committed after
	// every refusal noted before its answer, and clears it.
	held  uint64
	cause string    // "" while appends are written
	since time.Time // the first refusal of cause in a row
	last  time.Time // the last refusal of cause
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
func (a *appendsRefused) begin() uint64 { return a.began.Add(1) }

// note records the outcome of the append of ticket: err, its store's
// error, nil for one that wrote. A retry of a stored batch (which writes
// nothing) and an error of no refusing cause are not noted, nor is the
// refusal of an append begun before the latest noted. A write always is:
// one begun first and written after a later one's refusal (it waited on a
// group or a lock) shows appends are written now.
func (a *appendsRefused) note(ticket uint64, err error) {
	cause := ""
	if err != nil {
		cause = storeCause(err)
		if _, ok := refusingCauses[cause]; !ok {
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cause != "" && ticket < a.held {
		return
	}
	a.held = max(a.held, ticket)
	now := a.clock()
	if cause != a.cause || cause != "" && now.Sub(a.last) > refusedFor {
		a.since = now // a new row: the last one's was no more said
	}
	a.cause = cause
	if cause != "" {
		a.last = now
	}
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
