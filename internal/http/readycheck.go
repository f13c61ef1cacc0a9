package http

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// readyzChecksPerSecond is how many checks of the database /readyz begins
// in any second, at most: past that, a call is answered from the latest,
// begun within the second (readyChecks). A probe every few seconds from
// each load balancer or orchestrator is far below it, and each is checked
// afresh; a flood of probes, which need no token, costs the database at
// most this many checks a second (on MySQL about five statements each,
// one on information_schema), not one per call.
const readyzChecksPerSecond = 10

// readyChecks are /readyz's checks of the database: the store's ping and,
// with a read replica, its lag. Calls at once share the check under way,
// and a call past readyzChecksPerSecond in a second takes the latest, but
// never a passing one begun before a store failure the server answered
// since (failed): what any request met is never answered ready from a
// check older than it. A failed check may be answered for up to a second
// after the database is back: not ready a moment longer is the safe side.
type readyChecks struct {
	mu     sync.Mutex
	last   *readyCheck // the latest begun; nil before the first
	starts []time.Time // when the latest checks began, oldest first, at most readyzChecksPerSecond
	now    func() time.Time
	// failed counts the store failures answered (writeError): a check
	// that passed is taken again only while it is unchanged.
	failed atomic.Uint64
}

// readyCheck is one check of the database for /readyz.
type readyCheck struct {
	began  time.Time
	failed uint64        // readyChecks.failed as it began
	done   chan struct{} // closed once the fields below are set
	joined int           // the calls that took it, under readyChecks.mu
	// err is the store's ping's: nil, a partial finding (pingFinding)
	// or a failure; lag and lagErr the replica's, read only where the
	// ping passed or found a part missing.
	err    error
	lag    eventstore.ReplicaLag
	lagErr error
}

// passed reports whether c, done, found the database serving.
func (c *readyCheck) passed() bool {
	_, _, err := pingFinding(c.err)
	return err == nil && c.lagErr == nil
}

// readyCheck returns the check of the database that a call of /readyz
// answers from (readyChecks), waiting for it while it is under way; or
// ctx's error if ctx ends first. A check is bounded by 2 s and the
// request timeout, not by the context of the call that began it, so
// that one call giving up fails none of the others.
func (s *Server) readyCheck(ctx context.Context) (*readyCheck, error) {
	rc := &s.ready
	rc.mu.Lock()
	now := time.Now()
	if rc.now != nil {
		now = rc.now()
	}
	c := rc.last
	if c == nil || !rc.takes(c, now) {
		c = &readyCheck{began: now, failed: rc.failed.Load(), done: make(chan struct{})}
		rc.last = c
		if len(rc.starts) == readyzChecksPerSecond {
			rc.starts = rc.starts[1:]
		}
		rc.starts = append(rc.starts, now)
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
	}
	c.joined++
	rc.mu.Unlock()
	select {
	case <-c.done:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// takes reports whether a call at now takes c, the latest check, rather
// than begin one: while c is under way; once it is done, only past
// readyzChecksPerSecond checks begun in the second before now, and, if c
// passed, only if no store failure was answered since it began.
func (rc *readyChecks) takes(c *readyCheck, now time.Time) bool {
	select {
	case <-c.done:
	default:
		return true
	}
	if len(rc.starts) < readyzChecksPerSecond || now.Sub(rc.starts[0]) >= time.Second || now.Sub(c.began) >= time.Second {
		return false
	}
	return !c.passed() || rc.failed.Load() == c.failed
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
