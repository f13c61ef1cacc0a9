package mysqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// MariaDB and MySQL give a session the privileges on a database that its
// user had when it opened (or at its next USE): a GRANT reaches only the
// sessions opened after it. The pools keep their sessions for as long as
// requests keep them from idling, so those opened while a privilege was
// revoked went on being refused after an operator granted it back, though
// the refusal says to grant it again; and sessions opened before a REVOKE
// went on being let in (Ping's, while the reads' new ones were refused). A
// statement refused a privilege on a table therefore ends, as each is
// given back to its pool or taken from it, every session opened before
// that refusal, of every pool of that server's: the next request's new
// session has the privileges the user has now. A read replica's pools (the
// reads' and the feed's) count their refusals apart from the primary's: a
// privilege refused there says nothing of the primary's grants, and the
// writer's sessions, never refused, are not ended for it.
//
// While the refusal stands, the new session meets it too: ending every
// session at each refusal made a new session for each request (and for
// each of a pool's sessions in use), connection churn through an outage an
// operator is mending. A refusal ends the sessions opened before it at
// most once each regrantInterval for what is refused (the privilege and
// the table). The sessions opened after that end, and refused within the
// interval, lack the privilege too: once no refusal has come for
// regrantInterval, a session opened before the last refusal is not used
// again (two atomic loads decide it for every other), so the first request
// after a GRANT, the interval past, opens one that has it, and a GRANT is
// served again at most regrantInterval later. A refusal of something else
// (SELECT after INSERT) ends them at once: another privilege revoked or
// granted meanwhile.

// regrantInterval is the least time between two ends of the sessions for
// the same refusal.
const regrantInterval = time.Second

// privilegeEpoch counts the privilege refusals the store's statements met
// that ended the sessions opened before them.
type privilegeEpoch struct {
	refusals atomic.Uint64
	// lastRefused is when (the clock's UnixNano) a refusal was last
	// noted, whether it ended the sessions or not; 0 before any.
	lastRefused atomic.Int64

	mu    sync.Mutex
	ended map[string]time.Time // when each refusal (its privilege and table) last ended the sessions
	now   func() time.Time     // time.Now; a test's clock
}

// refused notes a statement refused what (its privilege and table, as the
// server named them): the sessions open now are not used again, unless
// the same refusal ended them less than regrantInterval ago.
func (p *privilegeEpoch) refused(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.nowLocked()
	p.lastRefused.Store(now.UnixNano())
	if last, ok := p.ended[what]; ok && now.Sub(last) < regrantInterval && !now.Before(last) {
		return
	}
	if p.ended == nil {
		p.ended = make(map[string]time.Time)
	}
	for k, last := range p.ended { // bounded by what may be refused: forget the old
		if now.Sub(last) >= regrantInterval {
			delete(p.ended, k)
		}
	}
	p.ended[what] = now
	p.refusals.Add(1)
}

// nowLocked is the clock's time; p.mu is held.
func (p *privilegeEpoch) nowLocked() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

// clock is the clock's time.
func (p *privilegeEpoch) clock() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nowLocked()
}

// sessionsOf wraps c so that each session it makes knows the refusals
// counted when it opened (privilegedSession).
func (p *privilegeEpoch) sessionsOf(c driver.Connector) driver.Connector {
	return epochConnector{Connector: c, p: p}
}

type epochConnector struct {
	driver.Connector
	p *privilegeEpoch
}

func (c epochConnector) Connect(ctx context.Context) (driver.Conn, error) {
	born, bornAt := c.p.refusals.Load(), c.p.clock().UnixNano()
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	// One list of what the driver's sessions do (cluster.go's): one
	// that lacks a method of it is refused, as newNodeConn refuses it,
	// not handed on without the guard, which would have switched itself
	// off without a word.
	inner, ok := conn.(mysqlConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("the MySQL driver's connection %T lacks a method the store needs", conn)
	}
	return &privilegedSession{mysqlConn: inner, born: born, bornAt: bornAt, p: c.p}, nil
}

// privilegedSession is a session of the driver's that database/sql ends,
// rather than reuse, once a privilege refusal was counted after it opened.
type privilegedSession struct {
	mysqlConn
	born   uint64
	bornAt int64 // the clock's UnixNano as it opened
	p      *privilegeEpoch
}

// stale reports whether a refusal counted since the session opened ended
// it, or whether it opened before the last refusal, which ended no
// sessions, and none has come for regrantInterval since: it may lack a
// privilege granted since.
func (c *privilegedSession) stale() bool {
	if c.p.refusals.Load() != c.born {
		return true
	}
	last := c.p.lastRefused.Load()
	if last == 0 || c.bornAt > last {
		return false
	}
	return c.p.clock().UnixNano()-last >= int64(regrantInterval)
}

// IsValid is asked as the session goes back to its pool.
func (c *privilegedSession) IsValid() bool { return !c.stale() && c.mysqlConn.IsValid() }

// ResetSession is called before an idle session is used again: one that is
// stale is ended, and database/sql takes, or makes, another.
func (c *privilegedSession) ResetSession(ctx context.Context) error {
	if c.stale() {
		return driver.ErrBadConn
	}
	return c.mysqlConn.ResetSession(ctx)
}
