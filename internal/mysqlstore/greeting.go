package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// A proxy or load balancer in front of a server that is down (HAProxy,
// ProxySQL, a cloud's SQL proxy, kubectl port-forward) accepts each
// connection and closes or resets it before the server's greeting. The
// driver then logs its own line ("packets.go:58 unexpected EOF") for each
// new session, the live feed's polls alone making ten a second, and returns
// "invalid connection", which says nothing of why and was counted as any
// other outage. newConnector's connections tell it: their error is a
// network error (noGreetingError), counted as unreachable as a refused dial
// is, and the driver's line for it is DEBUG (an address that accepts and
// says nothing past the DSN's readTimeout is told apart, as a timeout): those that handle the error
// (/readyz, the live feed) say an outage once, at its start and its end.

// newConnector is mysql.NewConnector for cfg, whose connections closed
// before the server's greeting fail with a noGreetingError.
func newConnector(cfg *mysql.Config) (driver.Connector, error) {
	cfg = cfg.Clone()
	dial := cfg.DialFunc
	// The driver dials with its connector's DialFunc (not the copy of the
	// configuration BeforeConnect is given), with the context of Connect.
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if dial != nil {
			c, err = dial(ctx, network, addr)
		} else {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		h, _ := ctx.Value(handshakeKey{}).(*handshake)
		if _, ok := c.(syscall.Conn); !ok || h == nil {
			return c, nil // not told: the driver checks a pooled session's liveness on its syscall.Conn
		}
		h.dialed.Store(true)
		h.conn = &greetingConn{Conn: c, h: h}
		return h.conn, nil
	}
	if err := cfg.Apply(mysql.BeforeConnect(func(ctx context.Context, cfg *mysql.Config) error {
		if h, _ := ctx.Value(handshakeKey{}).(*handshake); h != nil {
			cfg.Logger = handshakeLogger{h: h, next: cfg.Logger}
		}
		return nil
	})); err != nil {
		return nil, err
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return greetingConnector{Connector: c, addr: cfg.Addr, readTimeout: cfg.ReadTimeout}, nil
}

type handshakeKey struct{}

// handshake is what one new connection's handshake found.
type handshake struct {
	dialed, greeted atomic.Bool
	timedOut        atomic.Bool // a read before the greeting timed out (the DSN's readTimeout)
	mu              sync.Mutex
	read            string        // the driver's words for the read that failed before the greeting
	conn            *greetingConn // the connection dialed, if wrapped (set before Connect returns)
}

// greetingConnector makes the connections of newConnector.
type greetingConnector struct {
	driver.Connector
	addr        string
	readTimeout time.Duration // the DSN's, which a silent address outlasts
}

// Connect returns a noGreetingError for a connection made and closed before
// the server's greeting (the driver's ErrInvalidConn), else the driver's.
func (c greetingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	h := &handshake{}
	conn, err := c.Connector.Connect(context.WithValue(ctx, handshakeKey{}, h))
	if err != nil && errors.Is(err, mysql.ErrInvalidConn) && h.dialed.Load() && !h.greeted.Load() {
		h.mu.Lock()
		defer h.mu.Unlock()
		return nil, &noGreetingError{addr: c.addr, read: h.read, timedOut: h.timedOut.Load(), readTimeout: c.readTimeout}
	}
	if err != nil || h.conn == nil {
		return conn, err
	}
	inner, ok := conn.(mysqlConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("the MySQL driver's connection %T lacks a method the store needs", conn)
	}
	return &boundSession{mysqlConn: inner, c: h.conn}, nil
}

// greetingConn notes the first byte the server sends, its greeting; and
// bounds the reads of a statement's rows' Close by the statement's context
// (boundSession, boundBy).
type greetingConn struct {
	net.Conn
	h *handshake

	mu      sync.Mutex
	gen     uint64 // boundBy's, moved as each begins and ends
	expired bool   // the bound's context ended: reads fail
	reading bool   // a read is under way
	cut     bool   // its deadline was set in the past to end it
	failed  bool   // a read failed for the bound's end
}

// boundBy bounds the connection's reads by ctx until done is called: once
// ctx ends, every read fails at once, the one under way ended by a read
// deadline in the past. done reports whether ctx's end failed a read. The
// socket's deadline is moved only for a read under way, and put back after
// it: a session idle in its pool keeps none (the driver's check of a
// pooled session reads with it).
func (c *greetingConn) boundBy(ctx context.Context) (done func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	gen := c.gen
	c.expired, c.failed = ctx.Err() != nil, false
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen != gen {
			return
		}
		c.expired = true
		if c.reading && !c.cut {
			c.cut = true
			c.Conn.SetReadDeadline(longAgo) //nolint:errcheck // a connection closed fails its read anyway
		}
	})
	return func() bool {
		stop()
		c.mu.Lock()
		defer c.mu.Unlock()
		failed := c.failed
		c.gen++
		c.expired, c.failed = false, false
		return failed
	}
}

// longAgo is a read deadline passed: the read fails at once.
var longAgo = time.Unix(1, 0)

func (c *greetingConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.expired {
		c.failed = true
		c.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	c.reading = true
	c.mu.Unlock()
	n, err := c.read(b)
	c.mu.Lock()
	c.reading = false
	if c.cut {
		// The driver sets its own before each read, if it has one.
		c.cut, c.failed = false, err != nil
		c.Conn.SetReadDeadline(time.Time{}) //nolint:errcheck // a connection closed fails its next read
	}
	c.mu.Unlock()
	return n, err
}

func (c *greetingConn) read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.h.greeted.Load() {
		c.h.greeted.Store(true)
	}
	// A read that timed out before the greeting: the address accepted and
	// said nothing (a hung server, not one gone).
	var ne net.Error
	if err != nil && !c.h.greeted.Load() && errors.As(err, &ne) && ne.Timeout() {
		c.h.timedOut.Store(true)
	}
	return n, err
}

// SyscallConn is the connection's own, by which the driver finds a pooled
// session dead before it is used (newConnector wraps only one that has it).
func (c *greetingConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// boundSession is a session of the driver's whose reads as a statement's
// rows close are bounded by the statement's context too. The driver
// watches a statement's context until its rows' Close, which stops that
// watch and then reads what is left of the answer (the rows not read, as
// a read that stops at a chunk's bytes leaves them, or the end of a
// one-row answer) with no bound but the DSN's readTimeout (none by
// default): on a connection black-holed midway through an answer (a
// proxy gone silent, no FIN, no reset), the live feed's read of the head
// or of a page of the log sat in that read for ever, past its bound,
// and database/sql's own close at the context's end waited for it. Every
// other read is the driver's watch's.
type boundSession struct {
	mysqlConn
	c *greetingConn
}

func (s *boundSession) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.mysqlConn.QueryContext(ctx, query, args)
	if r, ok := rows.(mysqlRows); ok && err == nil {
		return &boundRows{mysqlRows: r, ctx: ctx, c: s.c}, nil
	}
	return rows, err
}

// BeginTx gives a transaction whose Commit reads COMMIT's answer by the
// transaction's context: the driver's reads it with none (database/sql
// gives Commit no context), so on a connection black-holed as COMMIT went
// tx.Commit sat in its socket read for ever (settling, dropping the
// snapshots). Its Rollback reads ROLLBACK's answer within a bound of its
// own (rollbackTimeout): database/sql rolls back as the context ends, when
// the context's bound would cut a healthy session.
func (s *boundSession) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := s.mysqlConn.BeginTx(ctx, opts)
	if err != nil {
		return tx, err
	}
	return &boundTx{Tx: tx, ctx: ctx, c: s.c}, nil
}

// boundTx is a transaction of a boundSession.
type boundTx struct {
	driver.Tx
	ctx context.Context
	c   *greetingConn
}

// Commit returns the context's error for a commit whose answer the
// context's end cut: COMMIT went, and its outcome is not known.
func (t *boundTx) Commit() error {
	done := t.c.boundBy(t.ctx)
	err := t.Tx.Commit()
	if done() && err != nil {
		return fmt.Errorf("COMMIT's answer unread: %w", t.ctx.Err())
	}
	return err
}

// rollbackTimeout bounds the read of ROLLBACK's answer. A healthy server
// answers at once; one that has not answered by then (a connection
// black-holed: a proxy gone silent, no FIN, no reset) is left, its
// session closed, which rolls back on the server.
const rollbackTimeout = 5 * time.Second

// Rollback returns a driver.ErrBadConn, so that database/sql closes the
// session rather than pool it, for a rollback whose answer did not come
// within rollbackTimeout: the driver reads it with no context (database/sql
// gives Rollback none), and on a connection black-holed as ROLLBACK went
// the rollback of a failed settlement or snapshot drop, of the lock probe,
// or database/sql's own at a cancelled transaction's end sat in its socket
// read for ever, its session held in use.
func (t *boundTx) Rollback() error {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	done := t.c.boundBy(ctx)
	err := t.Tx.Rollback()
	if done() && err != nil {
		return fmt.Errorf("ROLLBACK's answer unread within %s: %w (%w)", rollbackTimeout, driver.ErrBadConn, err)
	}
	return err
}

// PrepareContext gives a statement whose rows are boundRows too: with
// interpolateParams=false, database/sql prepares each statement that has
// arguments.
func (s *boundSession) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := s.mysqlConn.PrepareContext(ctx, query)
	if q, ok := st.(mysqlStmt); ok && err == nil {
		return &boundStmt{mysqlStmt: q, c: s.c}, nil
	}
	return st, err
}

// mysqlStmt is what the driver's prepared statements do, which boundStmt
// passes on.
type mysqlStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
	driver.NamedValueChecker
}

// boundStmt is a prepared statement of a boundSession.
type boundStmt struct {
	mysqlStmt
	c *greetingConn
}

func (s *boundStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.mysqlStmt.QueryContext(ctx, args)
	if r, ok := rows.(mysqlRows); ok && err == nil {
		return &boundRows{mysqlRows: r, ctx: ctx, c: s.c}, nil
	}
	return rows, err
}

// mysqlRows is what the driver's rows do, which boundRows passes on.
type mysqlRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
	driver.RowsNextResultSet
}

// boundRows are a statement's rows, whose Close reads by the statement's
// context (boundSession).
type boundRows struct {
	mysqlRows
	ctx   context.Context
	c     *greetingConn
	ended bool // Next said io.EOF with no result set after: Close reads nothing
}

// Next notes the end of the answer, after which the driver's Close reads
// nothing and needs no bound (most reads: arming one costs allocations).
func (r *boundRows) Next(dest []driver.Value) error {
	err := r.mysqlRows.Next(dest)
	if err == io.EOF {
		r.ended = !r.mysqlRows.HasNextResultSet()
	}
	return err
}

// Close returns the context's error for a close whose reads the context's
// end cut, as the driver does for a statement it cancels.
func (r *boundRows) Close() error {
	if r.ended {
		return r.mysqlRows.Close()
	}
	done := r.c.boundBy(r.ctx)
	err := r.mysqlRows.Close()
	if done() && err != nil {
		return r.ctx.Err()
	}
	return err
}

// handshakeLogger takes the driver's lines of one connection: until the
// server's greeting, a read that failed is said by the connection's error
// (noGreetingError), and its line is DEBUG; the others go to next.
type handshakeLogger struct {
	h    *handshake
	next mysql.Logger
}

func (l handshakeLogger) Print(v ...any) {
	if l.h.greeted.Load() {
		l.next.Print(v...)
		return
	}
	if len(v) > 1 {
		l.h.mu.Lock()
		l.h.read = strings.TrimSpace(fmt.Sprint(v[1:]...))
		l.h.mu.Unlock()
	}
	if d, ok := l.next.(driverLogger); ok {
		d.log.Debug("mysql driver: " + strings.TrimSpace(fmt.Sprint(v...)))
	}
}

// noGreetingError is a connection the database's address accepted and
// closed (or reset) before the server's greeting, or on which no greeting
// came within the DSN's readTimeout (timedOut). It is a net.Error: the
// address answers, but no server is behind it, or none that answers.
type noGreetingError struct {
	addr        string
	read        string // the driver's words for the failed read, if it said them
	timedOut    bool
	readTimeout time.Duration
}

func (e *noGreetingError) Error() string {
	msg := fmt.Sprintf("the database's address %s accepted the connection and closed it before MySQL's greeting: "+
		"a proxy or load balancer with no server behind it?", e.addr)
	if e.timedOut {
		msg = fmt.Sprintf("the database's address %s accepted the connection and sent no greeting within its readTimeout (%s): "+
			"a hung or overloaded server, a proxy waiting on one, or an address that is not MySQL's classic port (MySQL's X Protocol port 33060, a TLS-first proxy)?", e.addr, e.readTimeout)
	}
	if e.read != "" {
		msg += " (" + e.read + ")"
	}
	return msg
}

func (e *noGreetingError) Timeout() bool { return e.timedOut }

func (e *noGreetingError) Temporary() bool { return false }
