package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// Reading ahead. A client that reads a long stream or the log page by page
// (an aggregate rebuilt, a projection catching up) waits, for each page, on
// the page's query, then on the transfer and its own decoding, and only then
// asks for the next page: the database and the client take turns, and the
// server is mostly idle (docs/performance.md). So when a read that followed
// a next link (the caller's ReadAhead) has a page after it, the store reads
// that page too, in the background, while the client is busy with this one,
// and keeps it a moment for the request that asks for it.
//
// Nothing waits on a client: a page read ahead holds a connection only while
// its rows come, as every read does (readRange), and then sits in memory,
// under a bound of bytes and for at most aheadFor. It is handed out only
// where it is what a read at that moment would return:
//   - a stream's range of versions that all existed when it was read (an
//     event never changes once written); the request reads the stream's own
//     row afresh, and only a range it then asks for whole is taken, so a
//     page that would now end later is read again;
//   - a page of the log that was full (its limit of events, more after it):
//     positions are assigned in commit order and were visible and durable
//     up to its last when it was read, so no later read can find another
//     event among them. A page that reached the head is not kept.
//
// A database restored under a running server (docs/reliability.md) could
// make a page read ahead in the second before it stale; the live feed ends
// every subscription then, and a client's reads after aheadFor see the
// restored log.

// aheadFor is how long a page read ahead is kept for its request: pages
// follow each other in milliseconds, so a client that has not asked within
// it is not reading on.
const aheadFor = time.Second

// Bounds on what the pages read ahead hold: all together, and one page
// (past it the read stops and keeps nothing), and how many pages are kept
// or on their way at once.
const (
	aheadBytes     = 32 << 20
	aheadPageBytes = 4 << 20
	aheadPages     = 256
)

// aheadKey names a page read ahead: a stream's range of versions, or a page
// of the log by everything that selects it.
type aheadKey struct {
	stream uuid.UUID
	lo, hi int64 // a stream's versions, inclusive; the log's after, 0
	limit  int   // the log's
	filter string
}

// logKey is the key of the log page that opts select.
func logKey(opts eventstore.ReadAllOptions) aheadKey {
	var b strings.Builder
	b.WriteString(strings.Join(opts.StreamTypes, ","))
	b.WriteByte(0)
	b.WriteString(strings.Join(opts.EventTypes, ","))
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(opts.UpTo, 10))
	return aheadKey{stream: opts.StreamID, lo: opts.After, limit: opts.Limit, filter: b.String()}
}

// eventSize is what an event read ahead holds beside its data and metadata
// (its ids, names, numbers and time, and the slices' headers), counted
// against aheadBytes with them: a page of a thousand small events holds
// more in these than in its data.
const eventSize = int(unsafe.Sizeof(eventstore.Event{}))

// aheadPage is a page being read ahead, or read.
type aheadPage struct {
	ready chan struct{} // closed once the fields below are set
	// ok says that the page was read whole and may be handed out.
	ok      bool
	events  []eventstore.Event
	last    int64 // a log page's Last
	size    int   // bytes held: data, metadata and eventSize an event
	expires time.Time
	counted bool // its size is in readAhead.held (guarded by its mu)
}

// seq yields the page's events.
func (p *aheadPage) seq() func(func(eventstore.Event, error) bool) {
	return func(yield func(eventstore.Event, error) bool) {
		for _, e := range p.events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// readAhead holds the pages read ahead. Its zero value is not usable: see
// newReadAhead; a nil *readAhead reads nothing ahead.
type readAhead struct {
	slots chan struct{} // a token for each read ahead in flight
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu     sync.Mutex
	pages  map[aheadKey]*aheadPage
	held   int
	closed bool
}

// newReadAhead returns a readAhead that reads at most reads pages at once,
// or nil if reads is not positive.
func newReadAhead(reads int) *readAhead {
	if reads <= 0 {
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	return &readAhead{slots: make(chan struct{}, reads), ctx: ctx, stop: stop, pages: make(map[aheadKey]*aheadPage)}
}

// close stops the reads ahead in flight and waits for them.
func (a *readAhead) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.closed = true // no read starts after this
	a.mu.Unlock()
	a.stop()
	a.wg.Wait()
}

// take returns the page read ahead under key, waiting for it if it is on
// its way (until ctx ends), or nil if there is none it may hand out. A page
// is taken once.
func (a *readAhead) take(ctx context.Context, key aheadKey) *aheadPage {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	p := a.pages[key]
	if p != nil {
		delete(a.pages, key)
		if p.counted {
			a.held -= p.size
			p.counted = false
		}
	}
	a.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil
	}
	if !p.ok || time.Now().After(p.expires) {
		return nil
	}
	return p
}

// start reads the page under key ahead with read, unless it is being read
// or kept already, or the bounds leave no room. read returns the page's
// events, a log page's Last, and whether the page may be handed out; it
// must stop, returning false, once the events hold more than
// aheadPageBytes.
func (a *readAhead) start(key aheadKey, read func(ctx context.Context) ([]eventstore.Event, int64, bool)) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	if _, ok := a.pages[key]; ok || len(a.pages) >= aheadPages || a.held >= aheadBytes {
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		return // as many reads ahead as the pool may spare are on their way
	}
	p := &aheadPage{ready: make(chan struct{})}
	a.pages[key] = p
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		events, last, ok := read(a.ctx)
		<-a.slots
		size := 0
		for _, e := range events {
			size += eventSize + len(e.Data) + len(e.Metadata)
		}
		a.mu.Lock()
		if !ok || a.held+size > aheadBytes {
			ok, events = false, nil
		}
		p.ok, p.events, p.last, p.size, p.expires = ok, events, last, size, time.Now().Add(aheadFor)
		if a.pages[key] == p {
			if ok {
				a.held += size
				p.counted = true
				// Dropped at its time, whether or not another read
				// comes: a burst of reads ahead on a server that then
				// goes idle is not kept. (A timer late on a busy
				// machine leaves it a moment longer; take checks the
				// time too.)
				time.AfterFunc(aheadFor, func() { a.drop(key, p) })
			} else {
				delete(a.pages, key)
			}
		}
		a.mu.Unlock()
		close(p.ready)
	}()
}

// drop lets go of the page p kept under key, if it is still kept.
func (a *readAhead) drop(key aheadKey, p *aheadPage) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pages[key] != p {
		return
	}
	delete(a.pages, key)
	if p.counted {
		a.held -= p.size
		p.counted = false
	}
}

// collect reads events whole, up to aheadPageBytes: false if the read
// failed or the page is larger.
func collect(events func(func(eventstore.Event, error) bool)) ([]eventstore.Event, bool) {
	var out []eventstore.Event
	size := 0
	for e, err := range events {
		if err != nil {
			return nil, false
		}
		if size += len(e.Data) + len(e.Metadata); size > aheadPageBytes {
			return nil, false
		}
		out = append(out, e)
	}
	return out, true
}
