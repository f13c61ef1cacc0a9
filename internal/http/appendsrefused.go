package http

import (
	"sync"
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

// appendsRefused is what /readyz says of appends: refused, and why, from
// the last append this instance answered, until one is written again. A
// full disk, or a MySQL server restarted with unsafe durability settings,
// refuses every append while reads go on and the store's ping answers, so
// /readyz stays 200 (a 503 would take this instance's reads out of the
// load balancer, and every instance on the database is refused alike).
type appendsRefused struct {
	mu    sync.Mutex
	cause string    // "" while appends are written
	since time.Time // the first refusal of cause in a row
}

// note records the outcome of an append this instance answered: err, its
// store's error, nil for one that wrote. A retry of a stored batch (which
// writes nothing) and an error of no refusing cause leave it as it was.
func (a *appendsRefused) note(err error) {
	cause := ""
	if err != nil {
		cause = storeCause(err)
		if _, ok := refusingCauses[cause]; !ok {
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cause != a.cause {
		a.cause, a.since = cause, time.Now()
	}
}

// state returns the cause appends are refused for now, and since when; ""
// if they are not.
func (a *appendsRefused) state() (cause string, since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cause, a.since
}
