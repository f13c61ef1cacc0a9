package mysqlstore

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
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
// that refusal, of every pool: the next request's new session has the
// privileges the user has now. The price is a new session for each request while the refusal
// stands, an outage an operator is mending.

// privilegeEpoch counts the privilege refusals the store's statements met.
type privilegeEpoch struct{ refusals atomic.Uint64 }

// refused notes a statement refused a privilege: the sessions open now are
// not used again.
func (p *privilegeEpoch) refused() { p.refusals.Add(1) }

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
	born := c.p.refusals.Load()
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sessionConn)
	if !ok {
		return conn, nil // not the driver's: as it is
	}
	return &privilegedSession{sessionConn: inner, born: born, p: c.p}, nil
}

// sessionConn is what database/sql uses of the driver's connections.
type sessionConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
}

// privilegedSession is a session of the driver's that database/sql ends,
// rather than reuse, once a privilege refusal was counted after it opened.
type privilegedSession struct {
	sessionConn
	born uint64
	p    *privilegeEpoch
}

func (c *privilegedSession) stale() bool { return c.p.refusals.Load() != c.born }

// IsValid is asked as the session goes back to its pool.
func (c *privilegedSession) IsValid() bool { return !c.stale() && c.sessionConn.IsValid() }

// ResetSession is called before an idle session is used again: one that is
// stale is ended, and database/sql takes, or makes, another.
func (c *privilegedSession) ResetSession(ctx context.Context) error {
	if c.stale() {
		return driver.ErrBadConn
	}
	return c.sessionConn.ResetSession(ctx)
}
