package fanout

import (
	"slices"
	"sync"
	"time"
)

// DefaultCatchUpBytes is what subscriptions reading the store may hold, all
// together, unless Options say otherwise: as much as
// TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT lets clients that send slowly hold by
// default (256 MiB), for clients that read slowly. At the default event size
// bound that is about 110 subscriptions reading a page at once; the others
// wait their turn, those that have read the least of their catch-up first.
const DefaultCatchUpBytes = 256 << 20

// catchUpPageBytes is where a page of history stops: a read of the store
// hands a subscription no more than about this, and one event more.
const catchUpPageBytes = 1 << 20

// catchUpConsumerBytes is what a page costs besides its events' data and
// metadata: the rows' ids, names and other fields (a page has at most
// Options.PageSize rows, 500 by default) and its consumer's own copies of
// what it writes (the HTTP layer: a batch of up to 32 KiB of small frames,
// and a frame of a few tens of KiB; larger frames share the page's data).
const catchUpConsumerBytes = 256 << 10

// catchUpReserve is what one subscription reading a page is counted as
// holding: the page (its store reads events in chunks of about
// catchUpPageBytes, and the one event that passes it may be as large as an
// event may be) and what its consumer holds besides. A consumer that must
// copy a large event to write it (one that is not on one line) asks for a
// place with room for that copy (Room).
func catchUpReserve(maxEvent int) int64 {
	return catchUpPageBytes + int64(maxEvent) + catchUpConsumerBytes
}

// catchUpTurn is how long a subscription reading the store keeps its place
// while others wait for one: a page is written in milliseconds to a client
// that reads, but a client that reads slowly (and is never cut, as long as
// it takes bytes) may take minutes over it. It counts the consumer's time
// over the page alone: the store's reads of it are the database's time, not
// the client's.
const catchUpTurn = time.Second

// catchUpOvertakes is how many subscriptions that have read less of their
// catch-up may take a place before one that waits for its next page: enough
// for the few small newcomers that arrive during a turn to go first, few
// enough that a churn of them delays a large catch-up by that many turns a
// page, never for ever.
const catchUpOvertakes = 16

// budget is the bytes that subscriptions reading the store may hold, all
// together. A subscription takes its reservation before it reads and gives
// it back once its consumer has written what it read (its next call); one
// that finds none free queues, and reservations freed go to the queue in
// order of what each has read from the store in its catch-up so far, the
// least first, and in order of arrival among equals: a subscription with
// little history is not queued behind others' turns of megabytes each. One
// is passed only by those that have read less than it, and at most
// catchUpOvertakes times while it waits: newcomers arriving without end (a
// client opening and closing subscriptions) would otherwise keep another's
// catch-up from its next page for ever. A subscription whose client stalls
// thus holds only its own place.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
	// base is what a place counts besides its room: catchUpReserve of the
	// largest event the feed has read (raise).
	base  int64
	queue []*reservation // waiting, oldest first
	// stopped: the feed stopped; a reservation taken now is never granted,
	// its ready closed at once.
	stopped bool
}

// reservation is one subscription's claim on the budget.
type reservation struct {
	n       int64
	room    int64         // what it asked for beyond base
	served  int64         // what its subscription has read in its catch-up: its order in the queue
	passed  int           // how many queued ahead of it since it queued (under budget.mu)
	granted bool          // under budget.mu
	ready   chan struct{} // closed once granted
}

// take returns a reservation of base and room bytes for a subscription that
// has read served bytes in its catch-up: granted at once if the budget has
// room and nobody waits (or nothing is taken: a budget below one
// reservation still lets one through), else queued behind those that have
// read no more than it or been passed catchUpOvertakes times.
func (b *budget) take(room, served int64) *reservation {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &reservation{n: b.base + room, room: room, served: served, ready: make(chan struct{})}
	switch {
	case b.stopped:
		close(r.ready)
	case len(b.queue) == 0 && (b.used+r.n <= b.limit || b.used == 0):
		b.grantLocked(r)
	default:
		i := len(b.queue)
		for i > 0 && b.queue[i-1].served > served && b.queue[i-1].passed < catchUpOvertakes {
			i--
		}
		for _, w := range b.queue[i:] {
			w.passed++
		}
		b.queue = slices.Insert(b.queue, i, r)
	}
	return r
}

// raise makes base at least n, for the reservations waiting as for those
// taken from now on: a reservation queued before the feed read an event
// larger than base counted, and granted after, was let in at the smaller
// size, as many at once as those fit.
func (b *budget) raise(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= b.base {
		return
	}
	b.base = n
	for _, r := range b.queue {
		r.n = max(r.n, n+r.room)
	}
}

// cover counts a granted r as holding at least n bytes: its page holds an
// event larger than it counted when it was granted. The bytes are held
// already, past the limit or not: counted, they keep others waiting until
// they are given back.
func (b *budget) cover(r *reservation, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.granted && r.n < n {
		b.used += n - r.n
		r.n = n
	}
}

// isGranted reports whether r holds its bytes.
func (b *budget) isGranted(r *reservation) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return r.granted
}

// give gives r back, granted or still waiting, and grants the waiting ones
// that now fit. One still waiting may have held up those behind it (it
// asked for more than was free): they may fit now that it has left.
func (b *budget) give(r *reservation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !r.granted {
		if i := slices.Index(b.queue, r); i >= 0 {
			b.queue = slices.Delete(b.queue, i, i+1)
		}
	} else {
		r.granted = false
		b.used -= r.n
	}
	for len(b.queue) > 0 && (b.used+b.queue[0].n <= b.limit || b.used == 0) {
		next := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.grantLocked(next)
	}
}

func (b *budget) grantLocked(r *reservation) {
	r.granted = true
	b.used += r.n
	close(r.ready)
}

// wakeAll wakes every subscription waiting for its turn, without granting
// it one: the feed stopped, which each then finds (Next).
func (b *budget) wakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.queue {
		close(r.ready)
	}
	b.queue, b.stopped = nil, true
}

// waiting reports whether a reservation waits for its turn.
func (b *budget) waiting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue) > 0
}

// queued reports how many reservations wait for their turn.
func (b *budget) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// held reports the bytes reserved now.
func (b *budget) held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
