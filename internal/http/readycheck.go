package http

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// readyzChecksPerSecond is how many checks of the database /readyz begins
// in any second, at most: a call past that waits for the next to begin
// (readyChecks). A probe every few seconds from each load balancer or
// orchestrator is far below it; a flood of probes, which need no token,
// costs the database at most this many checks a second (on MySQL about
// five statements each, one on information_schema), not one per call.
const readyzChecksPerSecond = 10

// readyChecks are /readyz's checks of the database: the store's ping and,
// with a read replica, its lag. Calls at once share the check under way;
// a call that finds none under way begins one, unless readyzChecksPerSecond
// began in the second before it: then it waits until one may begin, and
// takes the first that does (with every call waiting with it). No call is
// answered from a check that ended before it came: what /readyz says is
// never older than the call but for the check it shared.
type readyChecks struct {
	mu     sync.Mutex
	last   *readyCheck // the latest begun; nil before the first
	starts []time.Time // when the latest checks began, oldest first, at most readyzChecksPerSecond
	// now and after are time.Now and a timer's channel; a clock the
	// test drives in tests.
	now   func() time.Time
	after func(time.Duration) (<-chan time.Time, func() bool)
}

// readyCheck is one check of the database for /readyz.
type readyCheck struct {
	done   chan struct{} // closed once the fields below are set
	joined int           // the calls that took it, under readyChecks.mu (tests)
	// err is the store's ping's: nil, a partial finding (pingFinding)
	// or a failure; lag and lagErr the replica's, read only where the
	// ping passed or found a part missing.
	err    error
	lag    eventstore.ReplicaLag
	lagErr error
}

// readyCheck returns the check of the database that a call of /readyz
// answers from (readyChecks), waiting for it; or ctx's error if ctx ends
// first. A check is bounded by 2 s and the request timeout, not by the
// context of the call that began it, so that one call giving up fails
// none of the others.
func (s *Server) readyCheck(ctx context.Context) (*readyCheck, error) {
	rc := &s.ready
	for {
		rc.mu.Lock()
		c, wait := rc.take(ctx, s)
		rc.mu.Unlock()
		if c != nil {
			select {
			case <-c.done:
				return c, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		timer, stop := rc.timer(wait)
		select {
		case <-timer:
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
	}
}

// take returns the check under way, or one it begins, for a call to
// wait on; or, where readyzChecksPerSecond began in the second before,
// nil and how long until one may begin. Under rc.mu.
func (rc *readyChecks) take(ctx context.Context, s *Server) (*readyCheck, time.Duration) {
	if c := rc.last; c != nil {
		select {
		case <-c.done:
		default:
			c.joined++
			return c, 0
		}
	}
	now := time.Now()
	if rc.now != nil {
		now = rc.now()
	}
	if len(rc.starts) == readyzChecksPerSecond {
		if wait := rc.starts[0].Add(time.Second).Sub(now); wait > 0 {
			return nil, wait
		}
		rc.starts = rc.starts[1:]
	}
	rc.starts = append(rc.starts, now)
	c := &readyCheck{done: make(chan struct{}), joined: 1}
	rc.last = c
	go func() {
		defer close(c.done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(2*time.Second, s.opts.RequestTimeout))
		defer cancel()
		c.err = s.store.Ping(ctx)
		if _, _, err := pingFinding(c.err); err == nil && s.opts.Replica != nil {
			// Reads and appends are served by two servers: both must answer.
			c.lag, c.lagErr = s.opts.Replica.ReplicaLag(ctx)
		}
	}()
	return c, 0
}

// timer is a channel that receives once d has passed, and the function
// that stops it early.
func (rc *readyChecks) timer(d time.Duration) (<-chan time.Time, func() bool) {
	if rc.after != nil {
		return rc.after(d)
	}
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// pingFinding splits what the store's ping returned: an index that only
// the reads of the log filtered on stream or event types use, missing,
// and a column the store does not write, NOT NULL without a default,
// found by looking, are partial findings (/readyz stays 200, naming
// them); anything else is err, the database not serving.
func pingFinding(ping error) (missing *eventstore.MissingError, unwritten *eventstore.UnwrittenColumnError, err error) {
	if !errors.As(ping, &missing) || missing.Index == "" {
		missing = nil
	}
	if !errors.As(ping, &unwritten) || unwritten.Table == "" || unwritten.Err != nil {
		unwritten = nil
	}
	if missing != nil || unwritten != nil {
		return missing, unwritten, nil
	}
	return nil, nil, ping
}
