package sqlstore

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// sharedHead makes the reads of the log's head that wait at once one query.
// Each subscription opens with a read of the head; a hundred opening
// together queued a hundred reads on the read pool (MySQL's: 10
// connections by default), ahead of every client's read of a page, which
// then waited for a connection for up to a second. A call joins a read that
// has not yet begun, never one under way: the head it is given was read
// after it was called, as its own query's would have been. At most one read
// of the head is in flight; the next begins when it ends, for every call
// that came meanwhile.
type sharedHead struct {
	mu      sync.Mutex
	running bool
	next    *headRead // the read the calls coming now join; begins when the running one ends
}

// headRead is one query of the head and the calls waiting for it.
type headRead struct {
	done    chan struct{}
	head    int64
	err     error
	panic   any                                  // the query's panic, raised again in each call that was given it
	waiting int                                  // calls still waiting; the query is cut when the last leaves
	cancel  context.CancelFunc                   // cuts the query; set when it begins
	query   func(context.Context) (int64, error) // the query of the call that made it, which it runs
}

// read returns the head that query reads, from a query begun after the call.
// The query runs on a context of its own, cut once every call waiting for it
// has left: a database that does not answer holds the next read of the head
// no longer than those calls would have waited each on its own query.
func (h *sharedHead) read(ctx context.Context, query func(context.Context) (int64, error)) (int64, error) {
	h.mu.Lock()
	if h.next == nil {
		h.next = &headRead{done: make(chan struct{}), query: query}
	}
	r := h.next
	r.waiting++
	if !h.running {
		h.running = true
		h.next = nil
		h.begin(r)
	}
	h.mu.Unlock()
	select {
	case <-r.done:
		if r.panic != nil {
			panic(r.panic)
		}
		return r.head, r.err
	case <-ctx.Done():
		h.mu.Lock()
		if r.waiting--; r.waiting == 0 && r.cancel != nil {
			r.cancel()
		}
		h.mu.Unlock()
		return 0, ctx.Err()
	}
}

// begin starts r's query, and the next read's once it ends, each the query
// of the call that made it: the next read's is not r's (it ran r's, and a
// call that came once r's query had panicked was given its panic again).
// h.mu is held.
// A panic of the query (a driver's) is raised again in each of its calls,
// on their own goroutines, where it was raised before reads were shared (a
// 500 for a request, a logged end for the feed's read), not on the query's,
// where it would end the process; the next read still begins.
func (h *sharedHead) begin(r *headRead) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		func() {
			defer func() {
				if p := recover(); p != nil {
					r.panic = fmt.Sprintf("%v (in the shared read of the log's head)\n%s", p, debug.Stack())
				}
			}()
			r.head, r.err = r.query(ctx)
		}()
		cancel()
		close(r.done)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.running = false
		next := h.next
		h.next = nil
		if next != nil && next.waiting > 0 { // (else every call that came meanwhile has left)
			h.running = true
			h.begin(next)
		}
	}()
}
