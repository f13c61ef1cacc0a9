package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

const (
	// connectConcurrency is how many subscriptions are being set up at once.
	connectConcurrency = 64
	// connectTimeout bounds the wait for all subscribers to be caught up.
	connectTimeout = 2 * time.Minute
	// sampleEvery is how often server memory is sampled during the writes.
	sampleEvery = 250 * time.Millisecond
)

// loadTest runs phases against one server.
type loadTest struct {
	cfg         subscribersConfig
	srv         *server
	db          *database
	progress    func(format string, a ...any)
	subClient   *http.Client
	writeClient *http.Client
	streams     []string // the streams the appends go to
	head        int64    // the last position written so far
}

func newLoadTest(cfg subscribersConfig, srv *server, db *database, progress func(string, ...any)) *loadTest {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	l := &loadTest{
		cfg: cfg, srv: srv, db: db, progress: progress,
		// Subscriptions never end by themselves: no client timeout, one
		// connection each, no limit on connections to the one host.
		subClient: &http.Client{Transport: &http.Transport{
			Proxy:                 nil, // traffic only to 127.0.0.1
			DialContext:           dialer.DialContext,
			MaxConnsPerHost:       0,
			MaxIdleConnsPerHost:   cfg.subscribers + 1,
			DisableCompression:    true,
			ResponseHeaderTimeout: 30 * time.Second,
		}, CheckRedirect: sameOriginRedirect},
		writeClient: &http.Client{Timeout: appendTimeout, Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: cfg.writers,
		}, CheckRedirect: sameOriginRedirect},
	}
	for range cfg.streams {
		l.streams = append(l.streams, uuid.NewString())
	}
	return l
}

func (l *loadTest) close() {
	l.subClient.CloseIdleConnections()
	l.writeClient.CloseIdleConnections()
}

// snapshot is the cumulative counters at one moment.
type snapshot struct {
	db        dbCounts     // the whole database server's
	own       serverCounts // the server under test's, from its /metrics
	serverCPU time.Duration
	toolCPU   time.Duration // this process's
	busy      time.Duration // the whole machine's
}

func (l *loadTest) snapshot(ctx context.Context) (snapshot, error) {
	var s snapshot
	var err error
	if s.db, err = l.db.counters(ctx); err != nil {
		return s, err
	}
	if s.own, err = l.srv.metrics(ctx, l.writeClient); err != nil {
		return s, err
	}
	if s.serverCPU, err = cpuTime(l.srv.pid()); err != nil {
		return s, err
	}
	if s.toolCPU, err = cpuTime(os.Getpid()); err != nil {
		return s, err
	}
	s.busy, err = machineBusy()
	return s, err
}

// phase runs one phase with n subscribers: connect them and wait until they
// are caught up, leave them idle, write, wait for every event to arrive
// everywhere, disconnect them, and work out the figures.
func (l *loadTest) phase(ctx context.Context, n int) (phaseResult, error) {
	res := phaseResult{Subscribers: n}
	if err := l.srv.running(); err != nil {
		return res, err
	}
	pid := l.srv.pid()
	var err error
	if res.RSSBeforeKiB, err = residentKiB(pid); err != nil {
		return res, err
	}

	// Connect, starting after everything written so far.
	l.progress("%d subscriber(s): connecting", n)
	endedBefore := l.srv.subscriptionsEnded()
	clock := time.Now() // the phase's clock: every time recorded is since then
	planned := int(l.cfg.rate * (l.cfg.warmup + l.cfg.duration).Seconds())
	subCtx, cancelSubs := context.WithCancel(ctx)
	subs, err := l.connect(ctx, subCtx, n, clock, planned)
	defer func() {
		cancelSubs()
		for _, s := range subs {
			<-s.done
		}
	}()
	if err != nil {
		return res, err
	}
	res.ConnectSeconds = time.Since(clock).Seconds()

	// Idle: memory with the subscribers connected, and the polling rate.
	l.progress("%d subscriber(s): connected in %.1f s; idle for %s", n, res.ConnectSeconds, l.cfg.settle)
	idleFrom, err := l.snapshot(ctx)
	if err != nil {
		return res, err
	}
	if !sleep(ctx, l.cfg.settle) {
		return res, ctx.Err()
	}
	idleTo, err := l.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.IdleDB, res.IdleGlobalDB = rate(idleFrom.own, idleTo.own), globalRateOf(idleFrom.db, idleTo.db)
	if res.RSSIdleKiB, err = residentKiB(pid); err != nil {
		return res, err
	}

	// Write, measuring from the end of the warm-up to the last 201.
	l.progress("%d subscriber(s): writing %g appends/s for %s (after %s warm-up)", n, l.cfg.rate, l.cfg.duration, l.cfg.warmup)
	start := time.Now()
	measuredFrom := start.Add(l.cfg.warmup).Sub(clock)
	ww, err := l.writeAndWatch(ctx, clock, start, planned)
	if err != nil {
		return res, err
	}
	elapsed := ww.to.db.at.Sub(ww.from.db.at)
	res.WindowSeconds = elapsed.Seconds()
	res.DB, res.GlobalDB = rate(ww.from.own, ww.to.own), globalRateOf(ww.from.db, ww.to.db)
	res.ServerCPUCores = (ww.to.serverCPU - ww.from.serverCPU).Seconds() / elapsed.Seconds()
	res.ToolCPUCores = (ww.to.toolCPU - ww.from.toolCPU).Seconds() / elapsed.Seconds()
	res.OtherCPUCores = (ww.to.busy-ww.from.busy).Seconds()/elapsed.Seconds() - res.ServerCPUCores - res.ToolCPUCores
	res.ServerAppend = summarise(l.srv.appendDurations(ww.from.db.at, ww.to.db.at))
	res.RSSPeakKiB = max(ww.peakKiB, res.RSSIdleKiB)

	// Wait for every subscriber to have the last event.
	var last int64
	for _, r := range ww.writes.records {
		last = max(last, r.pos)
	}
	l.head = max(l.head, last)
	res.DrainMs = float64(l.drain(ctx, subs, last).Microseconds()) / 1000
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.RSSEndKiB, err = residentKiB(pid); err != nil {
		return res, err
	}
	if err := l.srv.running(); err != nil {
		return res, err
	}

	// Disconnect: the server should end every subscription at once, and
	// give the memory back soon.
	cancelSubs()
	for _, s := range subs {
		<-s.done
	}
	disconnected := time.Now()
	res.ServerEnded = l.waitEnded(ctx, endedBefore+n, disconnected.Add(l.cfg.settle)) - endedBefore
	if !sleep(ctx, time.Until(disconnected.Add(l.cfg.settle))) {
		return res, ctx.Err()
	}
	if res.RSSAfterKiB, err = residentKiB(pid); err != nil {
		return res, err
	}

	res.fill(ww.writes, subs, measuredFrom)
	res.AppendsPerSec = float64(res.Measured) / res.WindowSeconds
	if deliveries := float64(res.Measured * n); deliveries > 0 {
		res.ServerCPUPerDeliveryUs = res.ServerCPUCores * res.WindowSeconds * 1e6 / deliveries
	}
	l.progress("%d subscriber(s): done", n)
	return res, nil
}

// connect opens n subscriptions to /events after l.head, a few at a time,
// and waits until each is caught up. The subscriptions run until subCtx
// ends; the caller must wait for every subscriber returned, also on error.
func (l *loadTest) connect(ctx, subCtx context.Context, n int, clock time.Time, planned int) ([]*subscriber, error) {
	subs := make([]*subscriber, 0, n)
	url := l.srv.url + "/events?after=" + strconv.FormatInt(l.head, 10)
	connecting := make(chan struct{}, connectConcurrency)
	for range n {
		select {
		case connecting <- struct{}{}:
		case <-ctx.Done():
			return subs, ctx.Err()
		}
		s := newSubscriber(planned + 16)
		subs = append(subs, s)
		go s.run(subCtx, l.subClient, url, clock, sync.OnceFunc(func() { <-connecting }))
	}
	deadline := time.NewTimer(connectTimeout)
	defer deadline.Stop()
	for i, s := range subs {
		select {
		case <-s.caughtUp:
		case <-s.done:
			if s.err == nil {
				return subs, ctx.Err()
			}
			return subs, fmt.Errorf("subscriber %d ended before it was caught up: %w", i+1, s.err)
		case <-deadline.C:
			return subs, fmt.Errorf("only %d of %d subscribers were caught up within %s", i, n, connectTimeout)
		case <-ctx.Done():
			return subs, ctx.Err()
		}
	}
	return subs, nil
}

// waitEnded waits until the server's access log shows want finished
// subscriptions in all, or until the deadline, and returns how many it shows.
func (l *loadTest) waitEnded(ctx context.Context, want int, deadline time.Time) int {
	for {
		got := l.srv.subscriptionsEnded()
		if got >= want || time.Now().After(deadline) || !sleep(ctx, 20*time.Millisecond) {
			return got
		}
	}
}

// watched is what watchWrites saw.
type watched struct {
	writes   writeResult
	from, to snapshot // at the end of the warm-up, and after the last 201
	peakKiB  int64    // the server's largest RSS sampled in between
}

// writeAndWatch writes total appends from start (see write), takes the
// counters at the end of the warm-up and when the writes are done, and
// samples the server's memory and the database's other clients in between.
// It returns only once the writers have stopped; if it fails, it stops them
// first, rather than let them go on to the end of their schedule.
func (l *loadTest) writeAndWatch(ctx context.Context, clock, start time.Time, total int) (watched, error) {
	writeCtx, stopWrites := context.WithCancel(ctx)
	defer stopWrites()
	written := make(chan writeResult, 1)
	go func() { written <- l.write(writeCtx, clock, start, total) }()
	measureFrom := start.Add(l.cfg.warmup)
	var ww watched
	fail := func(err error) (watched, error) {
		stopWrites()
		<-written
		return ww, err
	}
	if !sleep(ctx, time.Until(measureFrom)) {
		return fail(ctx.Err())
	}
	var err error
	if ww.from, err = l.snapshot(ctx); err != nil {
		return fail(err)
	}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case ww.writes = <-written:
			if ctx.Err() != nil {
				return ww, ctx.Err()
			}
			ww.to, err = l.snapshot(ctx)
			return ww, err
		case <-tick.C:
			rss, err := residentKiB(l.srv.pid())
			if err != nil {
				return fail(err)
			}
			ww.peakKiB = max(ww.peakKiB, rss)
			if i%4 == 0 {
				if err := l.db.noteOtherClients(ctx); err != nil {
					return fail(err)
				}
			}
		}
	}
}

// drain waits until every subscriber has received position last or has
// ended, for cfg.drain at most, and returns how long that took.
func (l *loadTest) drain(ctx context.Context, subs []*subscriber, last int64) time.Duration {
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		behind := slices.ContainsFunc(subs, func(s *subscriber) bool {
			select {
			case <-s.done:
				return false
			default:
				return s.last.Load() < last
			}
		})
		if !behind || time.Since(start) > l.cfg.drain {
			return time.Since(start)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Since(start)
		}
	}
}

// sleep waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
