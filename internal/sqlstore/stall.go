package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A database that stops answering while its connections stay up (a server
// stopped with SIGSTOP, a hung host, a network that drops what it carries
// without a reset) refuses nothing: each append and each read waited its
// whole deadline (30 s) for an answer, one after the other, while the
// readiness probe knew within 2 s. A refused or reset connection fails at
// once, and needs nothing here.
//
// The stall watch pings the database on a connection of its own, one ping
// at a time, about every second. Once a ping has gone unanswered for longer
// than its bound, the database is stalled: the writer answers the appends
// it has not sent (those queued behind a group stuck in the database, a
// group waiting for a connection, and each new group) and the reads refuse
// each statement before it takes a connection, or while it waits for one
// (each in use by reads stuck in the database), all at once with
// ErrUnavailable, and cut those under way (a read is safe to fail and to
// retry). What was sent keeps its usual care (an append that may
// have committed is settled, or of unknown outcome), but a wait for
// durability that needs the database ends: a retry of a stored batch is
// told it is stored, its durability unconfirmed; a read, that it is
// unavailable. A ping that answers, or that fails within the bound (refused,
// reset: that path is fast already), ends the stall, and so does a new
// connection that answers while a ping waits (its connection dead).
//
// It sees a server, or a network, that answers nothing; not a server
// whose storage is stuck (an fsync that hangs, a full disk's wait, InnoDB
// waiting on its own locks): the server's connection thread answers a ping
// without touching storage, and appends then wait their deadline as
// before.

const (
	// stallBound is how long a ping may go unanswered before the database
	// counts as stalled: longer than /readyz's probe waits (2 s), so that a
	// server slow for a moment under load is not taken for one stopped.
	stallBound = 5 * time.Second
	// stallEvery is how often the watch pings while the database answers.
	stallEvery = time.Second
	// stallPingBounds is how many bounds one ping may wait in all; the
	// next goes on another connection (a connection whose peer vanished
	// may never answer, while a new one would).
	stallPingBounds = 5
	// stallGreetingWaits is how many new connections may wait for their
	// greeting at once (waitGreeting); stallGreetingPingsMax, the most
	// pings' time the watch goes without one more once that many wait
	// (awaitGreetings): 5 minutes.
	stallGreetingWaits    = 4
	stallGreetingPingsMax = 12
	// stallGreetingCuts is how many waiting connections awaitGreetings
	// cuts in one stall, at most: some two hours of it. Each is counted
	// against the server's max_connect_errors for this host (MariaDB's
	// default, 100; past it the host is refused every session until FLUSH
	// HOSTS), and a server stopped for good counts them all once it
	// resumes: cut on, one each five minutes, they blocked the host after
	// some eight hours of a stall, every instance behind its address too.
	stallGreetingCuts = 24
	// stallSpentCutEvery is how many of the longest waits (five minutes:
	// an hour) go by, once a stall's cuts are spent, before one more new
	// connection is dialled, the oldest waiting cut for it: a server moved
	// after that (a DNS name moved) is found within the hour, and a silent
	// server counts some 75 cuts more over three days, not one each five
	// minutes.
	stallSpentCutEvery = 12
)

// stallWatch is a store's watch on whether its database answers. A nil
// watch never reports a stall.
type stallWatch struct {
	words stallWords // what it watches, in its lines and refusals
	db    *sql.DB
	c     driver.Connector // for a second opinion on a connection of its own (secondOpinion)
	log   *slog.Logger
	bound atomic.Int64 // nanoseconds: stallBound, shorter in tests

	mu       sync.Mutex
	pinging  uint64             // the ping under way's number; a later number makes an earlier ping's onset void
	deadConn uint64             // the number of a ping cut as its connection's, a new one having answered
	asking   uint64             // the number of the ping whose second opinion is under way; 0, none
	cutPing  context.CancelFunc // cuts the ping under way; nil between pings
	taken    bool               // a new connection of this stall's was taken and not greeted within the bound (waitGreeting)
	waits    []*greetingWait    // the second opinions waiting for their greeting (waitGreeting), the oldest first
	sent     time.Time          // when the ping under way was sent
	onset    *time.Timer        // begins a stall once the ping under way has gone unanswered for the bound
	quiet    time.Time          // when the first ping the database has not answered was sent; zero while it answers
	cuts     int                // the waiting connections awaitGreetings cut in this stall
	lastCut  time.Time          // when awaitGreetings last cut one
	cutsMax  int                // stallGreetingCuts, fewer in tests
	begun    context.Context    // ended when a stall begins; made anew when it ends
	onBegin  context.CancelFunc // ends begun
	// watched are the contexts until and watch handed out and not yet
	// stopped, each ended when a stall begins (begin); lastWatch numbers
	// them. A context.AfterFunc on begun for each cost three allocations
	// more a statement. cut holds, for a read's statement that a stall
	// ended (watch), the stall's refusal until the read unwatches it.
	watched   map[uint64]watched
	lastWatch uint64
	cut       map[uint64]*stallError

	cancel   context.CancelFunc // ends loop and the second opinions
	done     chan struct{}      // closed once loop has returned
	opinions sync.WaitGroup     // the second opinions under way; close waits for them
}

// stallWords are what a watch's log lines and refusals call its database,
// and what it refuses while that does not answer.
type stallWords struct {
	what    string // "the database"
	refuses string // what is answered 503 at once meanwhile
	serves  string // what goes to it again once it answers
}

// writerWords are the words of the writer's database's watch.
var writerWords = stallWords{what: "the database", refuses: "appends not yet sent and reads, those under way too,", serves: "appends and reads go to it as before"}

// primaryWords are the words of the writer's database's watch where the
// reads are on a read replica (Options.ReadProbe): it refuses appends alone,
// and said, as writerWords do, that reads were refused too.
var primaryWords = stallWords{what: "the primary", refuses: "appends not yet sent (reads go on, on the read replica)", serves: "appends go to it as before"}

// replicaWords are the words of the read replica's watch (Options.ReadProbe):
// only reads go there; appends, on the primary, are the writer's watch's.
var replicaWords = stallWords{what: "the read replica", refuses: "reads, those under way too, and subscriptions not yet begun (appends go on, on the primary)",
	serves: "reads and subscriptions go to it as before"}

// watchStalls opens a pool of one connection on c and starts pinging the
// database through it; close stops it and closes the pool.
func watchStalls(c driver.Connector, log *slog.Logger) *stallWatch {
	return startStallWatch(c, log, stallBound)
}

// watchPrimaryStalls is watchStalls for a primary whose reads are on a
// read replica (primaryWords).
func watchPrimaryStalls(c driver.Connector, log *slog.Logger) *stallWatch {
	return startStallWatchOf(primaryWords, c, log, stallBound, stallGreetingCuts)
}

// watchReplicaStalls is watchStalls for a read replica (replicaWords).
func watchReplicaStalls(c driver.Connector, log *slog.Logger) *stallWatch {
	return startStallWatchOf(replicaWords, c, log, stallBound, stallGreetingCuts)
}

// startStallWatch is watchStalls with the bound given.
func startStallWatch(c driver.Connector, log *slog.Logger, bound time.Duration) *stallWatch {
	return startStallWatchCutting(c, log, bound, stallGreetingCuts)
}

// startStallWatchCutting is startStallWatch with the most waiting
// connections cut in a stall given (stallGreetingCuts).
func startStallWatchCutting(c driver.Connector, log *slog.Logger, bound time.Duration, cuts int) *stallWatch {
	return startStallWatchOf(writerWords, c, log, bound, cuts)
}

// startStallWatchOf is startStallWatchCutting with the watch's words given.
func startStallWatchOf(words stallWords, c driver.Connector, log *slog.Logger, bound time.Duration, cuts int) *stallWatch {
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	w := &stallWatch{words: words, db: db, c: c, log: log, cutsMax: cuts, cancel: cancel, done: make(chan struct{})}
	w.begun, w.onBegin = context.WithCancel(context.Background())
	w.bound.Store(int64(bound))
	go w.loop(ctx)
	return w
}

// close stops the watch, waits for the connection it may be making for a
// second opinion, and closes its pool.
func (w *stallWatch) close() {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
	// Once loop has returned no second opinion is asked (ask finds its
	// ping over): those asked before are all counted.
	w.opinions.Wait()
	w.db.Close()
}

// loop pings until ctx ends: one ping at a time, the next a second after
// one that answered or failed fast, at once after one left unanswered.
// A ping past its bound is checked on a new connection (secondOpinion),
// again while it stays unanswered and new connections are not even made
// (an outage of the network), or once one was taken and not greeted, by
// one that waits for its greeting (waitGreeting): one that answers there says
// the watch's connection died (its peer vanished: a NAT entry lost, an
// address moved), not the server, or no longer the server, and the ping is
// cut, its connection let go.
func (w *stallWatch) loop(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		bound := time.Duration(w.bound.Load())
		pctx, cancel := context.WithTimeout(ctx, stallPingBounds*bound)
		w.mu.Lock()
		w.pinging++
		n, sent := w.pinging, time.Now()
		w.sent, w.cutPing = sent, cancel
		w.onset = time.AfterFunc(bound, func() { w.ask(ctx, n, sent, cancel) })
		w.mu.Unlock()
		err := w.db.PingContext(pctx)
		w.mu.Lock()
		w.onset.Stop()
		w.cutPing = nil
		deadConn := w.deadConn == n
		w.pinging++ // the onset, should it run late, does nothing
		bound = time.Duration(w.bound.Load())
		answered := err == nil || deadConn || (time.Since(sent) < bound && !noAnswer(err))
		greeting := len(w.waits) > 0
		switch {
		case ctx.Err() != nil:
		case answered:
			// Answered (here, or on a new connection), or failed fast
			// (refused, reset): not a stall.
			w.end()
		default:
			// Unanswered past the bound, and ended at its own: still
			// not answering, whether or not its onset ran.
			w.begin(sent)
		}
		w.mu.Unlock()
		cancel()
		if deadConn {
			// Let the dead connection go: the next ping dials anew.
			w.db.SetMaxIdleConns(0)
			w.db.SetMaxIdleConns(1)
			continue
		}
		switch {
		case answered:
			select {
			case <-ctx.Done():
			case <-time.After(stallEvery):
			}
		case greeting:
			// A new connection waits for its greeting (waitGreeting): its
			// answer ends the stall. The next ping would dial one more of
			// its own, and cut it in its handshake at its five bounds,
			// every 25 s of the stall, each counted against the server's
			// max_connect_errors: wait for those instead.
			w.awaitGreetings(ctx)
		}
	}
}

// greetingEvery is how long awaitGreetings waits, at first, before one
// more new connection waits for its greeting, and the longest it waits
// once stallGreetingWaits wait: a ping's time, and stallGreetingPingsMax.
func greetingEvery(bound time.Duration) (first, longest time.Duration) {
	first = stallPingBounds * bound
	return first, stallGreetingPingsMax * first
}

// awaitGreetings waits while new connections wait for their greeting
// (waitGreeting), until none does or ctx ends. Each stays with the server
// it reached: after a failover (a TCP proxy that keeps a session with its
// hung backend for hours, a DNS name moved) only a new connection reaches
// the server that answers, and waiting for those alone kept the stall on,
// every append and read refused, for as long. So one more new connection
// waits each ping's time (five bounds), none cut; once
// stallGreetingWaits wait, the oldest is cut (one handshake cut, counted
// against the server's max_connect_errors) for the next, each such time
// twice as long as the last, up to stallGreetingPingsMax pings': a moved server
// is found within a ping's time for the first stallGreetingWaits pings'
// time of a stall, within five minutes later, and a server that says
// nothing has some ten handshakes cut in its first 40 minutes, where one
// each ping was cut before. After stallGreetingCuts cuts (some two hours)
// it cuts one each stallSpentCutEvery longest waits (an hour), said once: a
// silent stall of hours would otherwise block the host at the server's
// max_connect_errors (cut on each five minutes, after some eight hours;
// now after some three days), and with none a server moved then (a DNS
// name) was never found.
func (w *stallWatch) awaitGreetings(ctx context.Context) {
	every, longest := greetingEvery(time.Duration(w.bound.Load()))
	for {
		w.mu.Lock()
		var newest <-chan struct{}
		if n := len(w.waits); n > 0 {
			newest = w.waits[n-1].done
		}
		w.mu.Unlock()
		if newest == nil {
			return
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-newest:
			t.Stop()
			continue
		case <-t.C:
		}
		w.mu.Lock()
		if len(w.waits) >= stallGreetingWaits && w.cuts >= w.cutsMax {
			// This stall's cuts are spent: no more handshakes are cut,
			// and none dialled, until one that waits ends by itself (a
			// proxy, or the server, gave it up: then one more takes its
			// place), the stall ends, or stallSpentCutEvery of the
			// longest waits have gone by since the last cut.
			if w.cuts == w.cutsMax {
				w.cuts++ // logged once a stall
				w.log.Warn(w.words.what+" has not answered for a long time: the stall watch now cuts one new connection an hour in its "+
					"handshake, at most, to find a database moved in a failover (each is counted against the server's "+
					"max_connect_errors for this host); the connections already waiting end the stall once the server greets them. "+
					"If the database was moved (its DNS name, or a proxy's backend), restart the service to find it at once",
					"unanswered_for", time.Since(w.quiet).Round(time.Second), "handshakes_cut", w.cutsMax)
			}
			if w.lastCut.IsZero() {
				w.lastCut = time.Now() // no cut yet (cutsMax 0): an hour from now
			}
			if time.Since(w.lastCut) < stallSpentCutEvery*longest {
				w.mu.Unlock()
				continue
			}
		}
		if len(w.waits) >= stallGreetingWaits {
			// Cut the oldest, and let it go before the next is dialled.
			w.cuts++
			w.lastCut = time.Now()
			old := w.waits[0]
			old.cancel()
			w.waits = w.waits[1:]
			every = min(2*every, longest)
			w.mu.Unlock()
			<-old.done
			w.mu.Lock()
		}
		if len(w.waits) > 0 && ctx.Err() == nil {
			w.waitGreeting(ctx)
		}
		w.mu.Unlock()
	}
}

// ask starts a second opinion on ping n (secondOpinion), unless one is
// under way or ping n has ended: one that waits for its greeting
// (waitGreeting) once a new connection of this stall's was taken and not
// greeted.
func (w *stallWatch) ask(ctx context.Context, n uint64, sent time.Time, cut context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n != w.pinging || w.asking == n || len(w.waits) > 0 || ctx.Err() != nil {
		return
	}
	if w.taken {
		w.waitGreeting(ctx)
		return
	}
	w.asking = n
	w.opinions.Add(1)
	go w.secondOpinion(ctx, n, sent, cut)
}

// secondOpinion pings the database on a new connection of its own once
// ping n, sent at sent, has gone unanswered for the bound: one that
// answers within the bound, or fails fast, says the server answers, and
// ping n is cut (cut) as its connection's, its end ending the stall if
// one is on; one that does not begins the stall. Where not even a
// connection was made (an outage of the network), a new one is asked again
// a bound after this one was: asked once, a ping whose connection died in
// the outage (a flow lost) kept the stall on after it until its five
// bounds were up, refusing every append and read for up to three bounds
// while the server answered. Not where the server took the connection and
// said nothing (stopped, hung): it has the watch's own connection too, and
// answers it once it resumes, while each connection cut in its handshake
// counts against its max_connect_errors for this host (past it, the host is
// refused every session until FLUSH HOSTS): there, and behind a TCP proxy
// that takes the connection while the server behind it is out of reach,
// the next new connection waits for its greeting (waitGreeting).
func (w *stallWatch) secondOpinion(ctx context.Context, n uint64, sent time.Time, cut context.CancelFunc) {
	defer w.opinions.Done()
	bound := time.Duration(w.bound.Load())
	octx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	asked := time.Now()
	err := pingOnce(octx, w.c)
	answered := err == nil || (time.Since(asked) < bound && !noAnswer(err))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.asking == n {
		w.asking = 0
	}
	switch {
	case n != w.pinging || ctx.Err() != nil:
		// Ping n ended meanwhile: its end said what it had to. But a new
		// connection taken and not greeted in the stall it began (this
		// one ran late) is still so: the next ping's onset has one wait
		// for its greeting, not one more cut at its bound (each counted
		// against the server's max_connect_errors).
		if ctx.Err() == nil && !answered && !notDialed(err) && !w.quiet.IsZero() {
			w.taken = true
		}
	case answered:
		w.deadConn = n
		cut()
	default:
		w.begin(sent)
		if notDialed(err) {
			// loop stops w.onset once ping n ends; setBound moves it.
			w.onset = time.AfterFunc(max(0, time.Until(asked.Add(bound))), func() { w.ask(ctx, n, sent, cut) })
			return
		}
		// Taken, and not greeted within the bound (or closed after
		// it): a server stopped, or a proxy whose server is out of reach.
		w.taken = true
		w.waitGreeting(ctx)
	}
}

// greetingWait is a second opinion waiting for its greeting; done is
// closed once it has ended, however.
type greetingWait struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// waitGreeting starts a second opinion on a new connection that waits,
// however long, for the server's greeting and its ping's answer: asked
// each bound, a connection taken and never greeted (a server stopped or
// hung; a TCP proxy that takes it while the server behind it is out of
// reach) was cut in its handshake each time, and each counted against the
// server's max_connect_errors for the host; asked once a ping and cut at
// its bound, after an outage that killed the watch's own connection behind
// a proxy it left the stall on until that ping's five bounds were up (up to
// three bounds, 15 s, of every append and read refused). One that waits
// is greeted once the server (or the path to it) is back, and its answer
// ends the stall then; no other is asked meanwhile but those of
// awaitGreetings. Once the last that waits fails (the proxy, or the
// server, gave up on it), one is asked again a bound after it was, as
// one that never connected is. w.mu is held.
func (w *stallWatch) waitGreeting(ctx context.Context) {
	gctx, cancel := context.WithCancel(ctx)
	g := &greetingWait{cancel: cancel, done: make(chan struct{})}
	w.waits = append(w.waits, g)
	w.opinions.Add(1)
	go func() {
		defer w.opinions.Done()
		defer close(g.done)
		defer cancel()
		asked := time.Now()
		err := pingOnce(gctx, w.c)
		bound := time.Duration(w.bound.Load())
		answered := err == nil || (time.Since(asked) < bound && !noAnswer(err))
		w.mu.Lock()
		defer w.mu.Unlock()
		if !slices.Contains(w.waits, g) || ctx.Err() != nil {
			return // the stall ended meanwhile (end), it was cut (awaitGreetings), or the watch closed
		}
		w.waits = slices.DeleteFunc(w.waits, func(o *greetingWait) bool { return o == g })
		switch {
		case answered && w.cutPing != nil:
			// The ping under way is its dead connection's: its end
			// ends the stall (loop), and the next dials anew.
			w.deadConn = w.pinging
			w.cutPing()
		case answered:
			w.end()
		case len(w.waits) > 0:
			// Others still wait: awaitGreetings asks one more in time.
		case w.cutPing != nil:
			w.taken = !notDialed(err)
			n, sent, cut := w.pinging, w.sent, w.cutPing
			// loop stops w.onset once ping n ends.
			w.onset.Stop()
			w.onset = time.AfterFunc(max(0, time.Until(asked.Add(bound)), time.Until(sent.Add(bound))), func() { w.ask(ctx, n, sent, cut) })
		default:
			// Between pings: the next one's onset asks.
			w.taken = !notDialed(err)
		}
	}()
}

// notDialed reports whether err is a dial's that made no connection (a
// *net.OpError of Op "dial"): nothing reached the server. The MySQL
// driver's handshake cut by its context is the context's error alone.
func notDialed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// pingOnce dials c and pings on that connection, then closes it.
func pingOnce(ctx context.Context, c driver.Connector) error {
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p, ok := conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// noAnswer reports whether err says the database did not answer (a dial
// or a read that timed out, a context that ended), not that it refused or
// reset: a DSN's dial timeout shorter than the bound ends a ping early,
// and that is no answer.
func noAnswer(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) && ne.Timeout()
}

// setBound sets the bound, for the ping under way too (tests).
func (w *stallWatch) setBound(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.bound.Store(int64(d))
	if w.onset != nil {
		w.onset.Reset(max(0, time.Until(w.sent.Add(d))))
	}
}

// begin begins a stall, the database unanswering since sent, unless one is
// on. w.mu is held.
func (w *stallWatch) begin(sent time.Time) {
	if !w.quiet.IsZero() {
		return
	}
	w.quiet = sent
	w.onBegin()
	if len(w.watched) > 0 {
		// err's refusal, which takes w.mu; a context's cancel runs none of
		// its children's functions here (AfterFunc's run on their own).
		refusal := &stallError{what: w.words.what, since: time.Since(w.quiet)}
		for id, c := range w.watched {
			if c.cause != nil {
				c.cause(refusal)
				continue
			}
			c.cancel()
			if w.cut == nil {
				w.cut = make(map[uint64]*stallError)
			}
			w.cut[id] = refusal
		}
		w.watched = nil
	}
	w.log.Warn(w.words.what+" does not answer (a ping unanswered): "+w.words.refuses+" are answered 503 "+
		"at once until it answers again", "unanswered_for", time.Since(sent).Round(time.Millisecond))
}

// end ends the stall, if one is on. w.mu is held.
func (w *stallWatch) end() {
	if w.quiet.IsZero() {
		return
	}
	w.log.Info(w.words.what+" answers again: "+w.words.serves,
		"stalled_for", time.Since(w.quiet).Round(time.Millisecond))
	w.quiet = time.Time{}
	w.begun, w.onBegin = context.WithCancel(context.Background())
	w.taken = false
	w.cuts, w.lastCut = 0, time.Time{}
	for _, g := range w.waits {
		// A bound's grace: its greeting, on its way if the server
		// answers again, is taken (a handshake cut counts against the
		// server's max_connect_errors), and then the session let go.
		time.AfterFunc(time.Duration(w.bound.Load()), g.cancel)
	}
	w.waits = nil
}

// err is the error of an append or read refused while the database does
// not answer, or nil while it does.
func (w *stallWatch) err() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.quiet.IsZero() {
		return nil
	}
	return &stallError{what: w.words.what, since: time.Since(w.quiet)}
}

// begins returns a channel closed once the database is stalled (at once if
// it is now); nil, never closed, for a nil watch.
func (w *stallWatch) begins() <-chan struct{} {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.begun.Done()
}

// until returns ctx ended too once a stall begins (at once if one is on),
// its cause then the stall's refusal (a *stallError); stop releases it,
// and leaves the cause a stall's only if one began before. For what waits
// on a database that may not answer: a connection of a pool all in use,
// or what nothing can answer while it does not (a durability wait). A nil
// watch ends nothing.
func (w *stallWatch) until(ctx context.Context) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if w == nil {
		return ctx, func() { cancel(nil) }
	}
	w.mu.Lock()
	if !w.quiet.IsZero() {
		err := &stallError{what: w.words.what, since: time.Since(w.quiet)}
		w.mu.Unlock()
		cancel(err)
		return ctx, func() {}
	}
	id := w.add(watched{cause: cancel})
	w.mu.Unlock()
	return ctx, func() {
		w.mu.Lock()
		delete(w.watched, id)
		w.mu.Unlock()
		cancel(nil)
	}
}

// watched is a context ended when a stall begins: until's, with the
// stall's refusal as its cause, or a read statement's (watch), cancelled.
type watched struct {
	cause  context.CancelCauseFunc
	cancel context.CancelFunc
}

// add registers c and returns its number. w.mu is held.
func (w *stallWatch) add(c watched) uint64 {
	if w.watched == nil {
		w.watched = make(map[uint64]watched)
	}
	w.lastWatch++
	w.watched[w.lastWatch] = c
	return w.lastWatch
}

// watch is until for a read's statement, at less cost: cancel, which
// ends the statement's context (its bound's), is called when a stall
// begins, and cutOf and unwatch then return the stall's refusal; no
// context of its own, nor a closure, is made. It returns the refusal,
// and registers nothing, while a stall is on. Call unwatch with the
// number it returns once the statement is done.
func (w *stallWatch) watch(cancel context.CancelFunc) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.quiet.IsZero() {
		return 0, &stallError{what: w.words.what, since: time.Since(w.quiet)}
	}
	return w.add(watched{cancel: cancel}), nil
}

// cutOf returns the refusal of the stall that ended watch's statement id,
// nil if none did, and leaves it watched.
func (w *stallWatch) cutOf(id uint64) *stallError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cut[id]
}

// unwatch ends watch's registration of statement id and returns the
// refusal of the stall that ended it, nil if none did.
func (w *stallWatch) unwatch(id uint64) *stallError {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.watched[id]; ok {
		delete(w.watched, id)
		return nil
	}
	se := w.cut[id]
	delete(w.cut, id)
	return se
}

// stallError is the error of a request refused, before anything of it was
// sent, while the database does not answer; or of a read under way when
// the stall began, cut then (cut). It is a net.Error that timed out, as a
// dial no server answers is: the 503's detail and metric say the database
// cannot be reached (tributary_store_errors_total's unreachable).
type stallError struct {
	what  string // stallWords.what
	since time.Duration
	sent  bool // a read sent, and cut as the stall began
}

func (e *stallError) Error() string {
	what := "not sent to it"
	if e.sent {
		what = "the read sent to it was cut unanswered (a read changes nothing: retry it)"
	}
	return fmt.Sprintf("%s: %s has not answered for %s (a server stopped or hung, or a network that drops what it carries): %s",
		eventstore.ErrUnavailable, e.what, e.since.Round(100*time.Millisecond), what)
}

// cut is e for a read under way when the stall began: it was sent, and
// its answer is not waited for.
func (e *stallError) cut() error {
	return &stallError{what: e.what, since: e.since, sent: true}
}

func (e *stallError) Unwrap() error   { return eventstore.ErrUnavailable }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// unconfirmed is the error of a wait for durability that the stall ended
// (until): nothing can confirm durability while the database does not
// answer. It is no refusal of the stall's (it does not wrap e): what waits
// was sent, and was answered (a read's rows, a retry's stored batch).
func (e *stallError) unconfirmed() error {
	return fmt.Errorf("%w: %w: %s has not answered for %s (a server stopped or hung, or a network that drops what it carries): "+
		"nothing can confirm it until it answers", eventstore.ErrUnavailable, eventstore.ErrDurabilityUnconfirmed, e.what, e.since.Round(100*time.Millisecond))
}

// waitDurable is wait(ctx, position), ended too once a stall begins (if
// it needs the database), then with the stall's unconfirmed error.
func (w *stallWatch) waitDurable(ctx context.Context, wait func(context.Context, int64) error, position int64) error {
	sctx, stop := w.until(ctx)
	err := wait(sctx, position)
	stop()
	var se *stallError
	if err != nil && errors.As(context.Cause(sctx), &se) {
		return se.unconfirmed()
	}
	return err
}

// isStall reports whether err is a refusal of the stall watch's.
func isStall(err error) bool {
	var se *stallError
	return errors.As(err, &se)
}
