package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// fakeConnector's connections are made as connect says: it may block
// (a server that does not answer) or fail at once (one that refuses).
type fakeConnector struct {
	connects atomic.Int64
	connect  func(ctx context.Context) error
}

func (c *fakeConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c.connects.Add(1)
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return fakeConn{}, nil
}

func (c *fakeConnector) Driver() driver.Driver { return nil }

// fakeConn answers nothing but a ping (database/sql pings a connection
// that implements driver.Pinger; one that does not counts as answering).
type fakeConn struct{}

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (fakeConn) Close() error                        { return nil }
func (fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

// waitFor waits until cond holds, failing the test if it does not within
// a minute (a guard against a hang, not a bound on how soon).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

// TestADatabaseThatRefusesAtOnceIsNotStalled: a ping refused at once (the
// server killed: connection refused, reset) fails fast, and so does every
// request: it is no stall, and refuses nothing on its behalf.
func TestADatabaseThatRefusesAtOnceIsNotStalled(t *testing.T) {
	t.Parallel()
	c := &fakeConnector{connect: func(context.Context) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}}
	var log testlog.Buffer
	w := startStallWatch(c, slog.New(slog.NewTextHandler(&log, nil)), 50*time.Millisecond)
	t.Cleanup(w.close)
	waitFor(t, "three pings", func() bool { return c.connects.Load() >= 3 })
	if err := w.err(); err != nil {
		t.Errorf("a database that refuses each ping at once: %v; want no stall", err)
	}
	select {
	case <-w.begins():
		t.Error("a database that refuses each ping at once: a stall began")
	default:
	}
	if strings.Contains(log.String(), "does not answer") {
		t.Errorf("a database that refuses each ping at once: logged %q; want no stall logged", log.String())
	}
}

// TestAStallBeginsOnceAPingGoesUnansweredAndEndsOnceOneAnswers: a ping
// left unanswered past the bound begins a stall (its channel closed, its
// error ErrUnavailable, one WARN line), however many pings go unanswered;
// the ping's answer ends it (a new channel, no error, one INFO line).
func TestAStallBeginsOnceAPingGoesUnansweredAndEndsOnceOneAnswers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := &fakeConnector{connect: func(ctx context.Context) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	var log testlog.Buffer
	w := startStallWatch(c, slog.New(slog.NewTextHandler(&log, nil)), 20*time.Millisecond)
	t.Cleanup(w.close)
	<-w.begins()
	err := w.err()
	if !isStall(err) || !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("a stall begun: err %v; want the stall's, wrapping ErrUnavailable", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a stall's error %v is no net.Error that timed out; want one, counted as the database unreachable", err)
	}
	// Pings time out (at five bounds) and are sent again: still one stall.
	waitFor(t, "a third ping", func() bool { return c.connects.Load() >= 3 })
	close(release)
	waitFor(t, "the stall's end", func() bool { return w.err() == nil })
	select {
	case <-w.begins():
		t.Error("after the stall ended, begins() is closed; want a new channel, open")
	default:
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 {
		t.Errorf("one stall: %d WARN lines; want 1:\n%s", n, log.String())
	}
	waitFor(t, "the INFO line", func() bool { return strings.Count(log.String(), "level=INFO") == 1 })
}

// stalledWatch is a watch that holds its database stalled, with no ping
// under way.
func stalledWatch() *stallWatch {
	w := &stallWatch{quiet: time.Now()}
	w.begun, w.onBegin = context.WithCancel(context.Background())
	w.onBegin()
	return w
}

// TestTheWriterSendsNoGroupWhileTheDatabaseDoesNotAnswer: appends handed
// to the writer before the stall was known (taken into a group while the
// group before it was stuck in the database) are answered with the
// stall's refusal, not written, and nothing of their group is sent: the
// writer has no pool here, and a try would fail on it.
func TestTheWriterSendsNoGroupWhileTheDatabaseDoesNotAnswer(t *testing.T) {
	t.Parallel()
	w := &writer{d: Dialect{Translate: func(err error) error { return err }, Retryable: func(error) bool { return false },
		Conflict: func(error) bool { return false }}, log: slog.New(slog.DiscardHandler), stall: stalledWatch()}
	group := []*call{oneEvent(), oneEvent()}
	for _, c := range group {
		c.done = make(chan struct{})
	}
	w.commit(group, nil)
	for i, c := range group {
		if !isStall(c.err) || errors.Is(c.err, eventstore.ErrOutcomeUnknown) {
			t.Errorf("call %d of a group taken while the database does not answer: %v; want the stall's refusal, not written", i, c.err)
		}
	}
}

// TestATryOfTheWriterBeginsNothingWhileTheDatabaseDoesNotAnswer: a group
// whose reads went with the last COMMIT and failed (that round trip's
// deadline passed in a stall) began afresh, sending its reads to a
// database known not to answer, and waited for its callers' deadline.
// transact refuses it with the stall's error before it begins anything:
// the writer has no pool here, and a BEGIN would fail on it.
func TestATryOfTheWriterBeginsNothingWhileTheDatabaseDoesNotAnswer(t *testing.T) {
	t.Parallel()
	w := &writer{d: Dialect{Translate: func(err error) error { return err }}, log: slog.New(slog.DiscardHandler), stall: stalledWatch()}
	c := oneEvent()
	c.done = make(chan struct{})
	out, err := w.transact([]*call{c}, nil, time.Now().Add(time.Minute))
	if !isStall(err) || out != nil {
		t.Errorf("a try while the database does not answer: %v, %v; want the stall's refusal, nothing begun", out, err)
	}
}

// pingConn answers a ping as ping says; as the MySQL driver's, a
// connection whose ping was ended by its context is closed (bad).
type pingConn struct {
	fakeConn
	ping func(ctx context.Context) error
	bad  *atomic.Bool
}

func (c pingConn) Ping(ctx context.Context) error {
	err := c.ping(ctx)
	if ctx.Err() != nil {
		c.bad.Store(true)
	}
	return err
}

func (c pingConn) IsValid() bool { return !c.bad.Load() }

// silentPing never answers, until its context ends.
func silentPing(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// deadFirstConnector's first connection never answers a ping (its peer
// vanished: a NAT entry lost, an address moved in a failover); every later
// one answers at once (the server is fine).
type deadFirstConnector struct{ n atomic.Int64 }

func (c *deadFirstConnector) Connect(context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	return pingConn{bad: new(atomic.Bool), ping: func(context.Context) error { return nil }}, nil
}

func (c *deadFirstConnector) Driver() driver.Driver { return nil }

// TestADeadConnectionOfTheWatchIsNoStallWhileTheServerAnswers: the watch
// pinged on one connection, and tried another only after five bounds (25
// s): one connection dead while the server answered new ones at once
// refused every append, every read and /readyz for 20 s (hostile review).
// A ping past its bound is now checked on a new connection first: one that
// answers is no stall, and the dead connection is let go.
func TestADeadConnectionOfTheWatchIsNoStallWhileTheServerAnswers(t *testing.T) {
	c := &deadFirstConnector{}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), 50*time.Millisecond)
	t.Cleanup(w.close)
	begun := w.begins()
	// A new connection for the check, then one for the next ping.
	waitFor(t, "the watch to move to a new connection", func() bool { return c.n.Load() >= 3 })
	select {
	case <-begun:
		t.Fatalf("a stall began on one dead connection while the server answered every new one (connections made: %d)", c.n.Load())
	default:
	}
	if err := w.err(); err != nil {
		t.Fatalf("the store refuses while the server answers: %v", err)
	}
}

// timeoutError is a dial's "i/o timeout": no answer.
type timeoutError struct{}

func (timeoutError) Error() string   { return "dial tcp 10.0.0.1:3306: i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// stoppedConnector's first connection never answers a ping, and every
// later dial times out within the bound (a DSN's timeout below it): the
// server stopped.
type stoppedConnector struct {
	n    atomic.Int64
	dial time.Duration
}

func (c *stoppedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	select {
	case <-time.After(c.dial):
		return nil, timeoutError{}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *stoppedConnector) Driver() driver.Driver { return nil }

// TestADialThatTimesOutIsNoAnswer: a dial that times out within the bound
// (the DSN's timeout=3s) failed "fast" and ended the stall, though the
// server still answered nothing (hostile review): a timeout is no answer.
func TestADialThatTimesOutIsNoAnswer(t *testing.T) {
	bound := 50 * time.Millisecond
	c := &stoppedConnector{dial: bound * 6 / 10}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), bound)
	t.Cleanup(w.close)
	<-w.begins()
	waitFor(t, "dials to be tried again", func() bool { return c.n.Load() >= 5 })
	if w.err() == nil {
		t.Fatalf("the stall ended while every dial (%d) timed out", c.n.Load()-1)
	}
}

// outageConnector's first connection never answers a ping (its flow lost
// in an outage: a NAT entry, an address moved without a reset); every later
// dial gets no answer while the outage lasts (no TCP connection made), and
// answers at once once back is set (the server answers new connections
// again).
type outageConnector struct {
	n    atomic.Int64
	back atomic.Bool
}

func (c *outageConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	if !c.back.Load() {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
	}
	return pingConn{bad: new(atomic.Bool), ping: func(context.Context) error { return nil }}, nil
}

func (c *outageConnector) Driver() driver.Driver { return nil }

// TestAStallEndsOnceNewConnectionsAnswerThoughTheWatchsOwnStaysDead: a
// new connection was asked once, at the ping's first bound; after an
// outage that killed the watch's own connection, nothing more was asked
// until that ping's five bounds were up, and every append and read was
// refused for up to three bounds (15 s) while the server answered again
// (hostile review). A new connection is asked again while the ping stays
// unanswered, and the first that answers ends the stall. The ping here
// may wait five hours: it is under way all through.
func TestAStallEndsOnceNewConnectionsAnswerThoughTheWatchsOwnStaysDead(t *testing.T) {
	t.Parallel()
	c := &outageConnector{}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), time.Hour)
	t.Cleanup(w.close)
	waitFor(t, "the first ping", func() bool { return c.n.Load() >= 1 })
	w.setBound(20 * time.Millisecond)
	waitFor(t, "the stall", func() bool { return w.err() != nil })
	waitFor(t, "new connections asked again while the first ping waits", func() bool { return c.n.Load() >= 4 })
	c.back.Store(true)
	waitFor(t, "the stall's end once new connections answer", func() bool { return w.err() == nil })
}

// leavingConnector's first connection never answers a ping; every later
// dial gets no answer, and, its context ended, takes a moment to leave (a
// driver closing its socket), counted in open until it has.
type leavingConnector struct {
	n    atomic.Int64
	open atomic.Int64
}

func (c *leavingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	c.open.Add(1)
	defer c.open.Add(-1)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	return nil, ctx.Err()
}

func (c *leavingConnector) Driver() driver.Driver { return nil }

// TestCloseWaitsForTheNewConnectionItAsked: close stopped the ping loop,
// but not a new connection asked for a second opinion, which could outlive
// the store's Close (hostile review). close waits for it now.
func TestCloseWaitsForTheNewConnectionItAsked(t *testing.T) {
	t.Parallel()
	c := &leavingConnector{}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), time.Hour)
	waitFor(t, "the first ping", func() bool { return c.n.Load() >= 1 })
	w.setBound(10 * time.Millisecond)
	waitFor(t, "a new connection asked", func() bool { return c.open.Load() > 0 })
	w.close()
	if n := c.open.Load(); n != 0 {
		t.Errorf("after close, %d new connection(s) of the watch still being made; want none", n)
	}
}

// silentServerConnector's connections are taken and never greeted (a
// server stopped with SIGSTOP, or hung): its first connection never
// answers a ping, and every later Connect waits for its context, the
// connection made but cut in its handshake. It counts the Connects of the
// watch's loop (their context of five bounds) and of its second opinions
// (any other), and the second opinions cut (their context ended) before
// closing is set.
type silentServerConnector struct {
	bound               time.Duration
	n, loop, asked, cut atomic.Int64
	closing             atomic.Bool
}

func (c *silentServerConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	opinion := true
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*c.bound {
		c.loop.Add(1)
		opinion = false
	} else {
		c.asked.Add(1)
	}
	<-ctx.Done()
	if opinion && !c.closing.Load() {
		c.cut.Add(1)
	}
	return nil, ctx.Err()
}

func (c *silentServerConnector) Driver() driver.Driver { return nil }

// TestAServerThatTakesConnectionsAndSaysNothingHasOneNewConnectionCutAStall:
// a connection cut in its handshake counts against the server's
// max_connect_errors for the host once the server answers again (past it,
// the host is refused every session until FLUSH HOSTS). A server that
// takes connections and says nothing (stopped, hung) greets each once it
// resumes: the watch cuts the first new connection it asks at its bound
// (a proxy's outage cut short the same way), then lets the next wait for
// its greeting however many pings go by, and one more each ping's time
// (to find a server moved in a failover), none cut while fewer than
// stallGreetingWaits wait.
func TestAServerThatTakesConnectionsAndSaysNothingHasOneNewConnectionCutAStall(t *testing.T) {
	t.Parallel()
	bound := 20 * time.Millisecond
	c := &silentServerConnector{bound: bound}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), bound)
	t.Cleanup(w.close)
	waitFor(t, "a new connection waiting for its greeting", func() bool { return c.asked.Load() >= 2 })
	// Room for three of the loop's pings (which now wait for that
	// greeting: TestTheWatchCutsNoHandshakeOfItsOwnWhileANewConnectionWaitsForItsGreeting),
	// each time one more new connection waiting too (awaitGreetings), none
	// cut while fewer than stallGreetingWaits wait.
	time.Sleep(3 * stallPingBounds * bound)
	c.closing.Store(true)
	w.close()
	if cut, asked, pings := c.cut.Load(), c.asked.Load(), 1+c.loop.Load(); cut > 1 || asked > 1+stallGreetingWaits {
		t.Errorf("a server that takes connections and says nothing, %d pings: %d new connections asked, %d cut in their handshake; want at most %d asked, 1 cut",
			pings, asked, cut, 1+stallGreetingWaits)
	}
}

// TestTheMySQLDriversErrorsSayWhetherAConnectionWasMade: the watch asks a
// new connection again only while its dials make none (notDialed), and a
// handshake a server never answers is no answer (noAnswer). The MySQL
// driver's own errors, against a server that takes the connection and
// says nothing, and against a port nothing listens on.
func TestTheMySQLDriversErrorsSayWhetherAConnectionWasMade(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // taken, never greeted
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := closed.Addr().String()
	closed.Close()
	connect := func(addr string) error {
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.User = "tcp", addr, "root"
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		conn, err := c.Connect(ctx)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := connect(ln.Addr().String()); !noAnswer(err) || notDialed(err) {
		t.Errorf("a server that takes the connection and never greets it: %v (no answer %t, no connection made %t); want no answer, a connection made",
			err, noAnswer(err), notDialed(err))
	}
	if err := connect(refusing); noAnswer(err) || !notDialed(err) {
		t.Errorf("a port nothing listens on: %v (no answer %t, no connection made %t); want an answer (refused), no connection made",
			err, noAnswer(err), notDialed(err))
	}
	if err := connect(dropping(t)); !noAnswer(err) || !notDialed(err) {
		t.Errorf("a port whose SYNs get no answer: %v (no answer %t, no connection made %t); want no answer, no connection made",
			err, noAnswer(err), notDialed(err))
	}
}

// dropping returns the address of a socket that listens, with room for
// no connection waiting to be taken, and takes none: once one waits, the
// kernel drops the SYNs of the next ones, as a network that carries
// nothing does.
func dropping(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // dropped: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel took every connection to a listener with no room: no dial here gets no answer")
	return ""
}

// proxiedOutageConnector is a database behind a TCP proxy through an
// outage: the watch's first connection never answers a ping (its flow
// lost in the outage); every later connection is taken by the proxy at
// once and says nothing while the outage lasts (its handshake waits, no
// error of a dial), and is greeted once back is closed. It counts the
// connections whose handshake the watch cut (their context ended) before
// closing is set.
type proxiedOutageConnector struct {
	n, cut  atomic.Int64
	back    chan struct{}
	closing atomic.Bool
}

func (c *proxiedOutageConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	select {
	case <-c.back:
		return pingConn{bad: new(atomic.Bool), ping: func(context.Context) error { return nil }}, nil
	case <-ctx.Done():
		if !c.closing.Load() {
			c.cut.Add(1)
		}
		return nil, ctx.Err()
	}
}

func (c *proxiedOutageConnector) Driver() driver.Driver { return nil }

// TestAStallBehindAProxyEndsOnceItsNewConnectionsAreGreeted: behind a
// TCP proxy (or a dialer whose error is not a *net.OpError), a new
// connection asked at the ping's first bound was cut in its handshake and
// not asked again: after an outage that killed the watch's own connection
// the stall outlived it until that ping's five bounds were up (up to three
// bounds, 15 s). The watch now lets a new connection that the proxy took
// wait for its greeting, and the greeting ends the stall. The ping here may
// wait five hours: it is under way all through.
func TestAStallBehindAProxyEndsOnceItsNewConnectionsAreGreeted(t *testing.T) {
	t.Parallel()
	c := &proxiedOutageConnector{back: make(chan struct{})}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), time.Hour)
	t.Cleanup(w.close)
	waitFor(t, "the first ping", func() bool { return c.n.Load() >= 1 })
	w.setBound(20 * time.Millisecond)
	waitFor(t, "the stall", func() bool { return w.err() != nil })
	waitFor(t, "a new connection taken by the proxy", func() bool { return c.n.Load() >= 2 })
	close(c.back)
	waitFor(t, "the stall's end once new connections are greeted", func() bool { return w.err() == nil })
}

// sendsPing reports whether chunk is a MySQL COM_PING packet (a payload
// of one byte, 0x0e).
func sendsPing(chunk []byte) bool {
	return len(chunk) == 5 && chunk[0] == 1 && chunk[1] == 0 && chunk[2] == 0 && chunk[4] == 0x0e
}

// TestAStallBehindAFaultProxyEndsOnceItPassesBytesAgain is
// TestAStallBehindAProxyEndsOnceItsNewConnectionsAreGreeted with MariaDB
// behind the fault proxy: the watch's ping held for good (its connection
// lost in the outage), the proxy stalled (it takes new connections and
// passes nothing), then resumed. The ping may wait five hours.
func TestAStallBehindAFaultProxyEndsOnceItPassesBytesAgain(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	cfg.DBName = ""
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("connector: %v", err)
	}
	held, _ := proxy.HoldAfter(sendsPing)
	w := startStallWatch(c, slog.New(slog.DiscardHandler), time.Hour)
	t.Cleanup(w.close)
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the watch's first ping")
	}
	proxy.Stall()
	defer proxy.Resume()
	w.setBound(200 * time.Millisecond)
	waitFor(t, "the stall", func() bool { return w.err() != nil })
	proxy.Resume()
	waitFor(t, "the stall's end once the proxy passes bytes again", func() bool { return w.err() == nil })
}

// TestAStallOfHoursCutsABoundedNumberOfHandshakes: against a server that
// takes connections and says nothing for hours, the watch cut the oldest
// of the connections waiting for their greeting every five minutes, for a
// new one that might reach a server moved in a failover: each cut is
// counted against the server's max_connect_errors for this host (MariaDB's
// default, 100), which blocked the host after some eight hours of a stall.
// Once a stall's cuts are spent, it cuts none for an hour's worth of the
// longest waits (stallSpentCutEvery: TestAServerMovedAfterTheStallsCutsAreSpentIsFound),
// and the connections that wait still end the stall once the server greets them.
func TestAStallOfHoursCutsABoundedNumberOfHandshakes(t *testing.T) {
	t.Parallel()
	const cuts = 3
	bound := 20 * time.Millisecond
	c := &silentServerConnector{bound: bound}
	w := startStallWatchCutting(c, slog.New(slog.DiscardHandler), bound, cuts)
	t.Cleanup(w.close)
	// The first new connection is cut at its bound (secondOpinion), then
	// the oldest of those waiting each time one more is dialled.
	waitFor(t, "the stall's cuts spent", func() bool { return c.cut.Load() >= 1+cuts })
	// Room for several more cuts at the longest wait between two.
	_, longest := greetingEvery(bound)
	time.Sleep(3 * longest)
	c.closing.Store(true)
	w.close()
	if cut := c.cut.Load(); cut != 1+cuts {
		t.Errorf("a server silent for a long stall: %d new connections cut in their handshake; want %d (one, then the stall's %d)",
			cut, 1+cuts, cuts)
	}
}

// givingUpConnector is silentServerConnector whose new connections a test
// can have given up by the far end (a proxy's, or the server's, reset) with
// giveUp: the oldest waiting then fails by itself.
type givingUpConnector struct {
	silentServerConnector
	mu      sync.Mutex
	waiting []chan struct{}
}

func (c *givingUpConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if deadline, ok := ctx.Deadline(); c.n.Load() == 0 || ok && time.Until(deadline) > 2*c.bound {
		return c.silentServerConnector.Connect(ctx)
	}
	c.n.Add(1)
	c.asked.Add(1)
	reset := make(chan struct{})
	c.mu.Lock()
	c.waiting = append(c.waiting, reset)
	c.mu.Unlock()
	select {
	case <-reset:
		return nil, errors.New("read tcp 10.0.0.2:40000->10.0.0.1:3306: read: connection reset by peer")
	case <-ctx.Done():
		c.mu.Lock()
		c.waiting = slices.DeleteFunc(c.waiting, func(r chan struct{}) bool { return r == reset })
		c.mu.Unlock()
		if !c.closing.Load() {
			c.cut.Add(1)
		}
		return nil, ctx.Err()
	}
}

// giveUp resets the oldest new connection still waiting; false if none is.
func (c *givingUpConnector) giveUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiting) == 0 {
		return false
	}
	close(c.waiting[0])
	c.waiting = c.waiting[1:]
	return true
}

// TestAWaitingConnectionGivenUpIsReplacedOnceTheStallsCutsAreSpent: once a
// stall's cuts are spent, a connection waiting for its greeting that the
// far end gives up (a reset) frees its place: one more new connection is
// dialled for it, none cut, so a server moved meanwhile is still found.
func TestAWaitingConnectionGivenUpIsReplacedOnceTheStallsCutsAreSpent(t *testing.T) {
	t.Parallel()
	const cuts = 1
	bound := 20 * time.Millisecond
	c := &givingUpConnector{silentServerConnector: silentServerConnector{bound: bound}}
	w := startStallWatchCutting(c, slog.New(slog.DiscardHandler), bound, cuts)
	t.Cleanup(w.close)
	waitFor(t, "the stall's cuts spent", func() bool { return c.cut.Load() >= 1+cuts })
	_, longest := greetingEvery(bound)
	time.Sleep(2 * longest)
	asked, cut := c.asked.Load(), c.cut.Load()
	if !c.giveUp() {
		t.Fatal("no new connection waits for its greeting once the stall's cuts are spent; want some")
	}
	waitFor(t, "one more new connection in place of the one given up", func() bool { return c.asked.Load() > asked })
	c.closing.Store(true)
	w.close()
	if got := c.cut.Load(); got != cut {
		t.Errorf("a waiting connection given up once the stall's cuts were spent: %d more cut; want none", got-cut)
	}
}

// lateOpinionConnector is silentServerConnector whose first second opinion
// (a connection asked with a bound's deadline) returns, cut, only once the
// ping it was asked for has ended: its goroutine late, as on a loaded host
// where a test's bound is milliseconds. bounded counts the connections
// asked with a deadline of a bound (each cut in its handshake), greeting
// those asked to wait for their greeting (no deadline).
type lateOpinionConnector struct {
	bound             time.Duration
	w                 atomic.Pointer[stallWatch]
	n                 atomic.Int64
	bounded, greeting atomic.Int64
}

func (c *lateOpinionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	deadline, ok := ctx.Deadline()
	switch {
	case !ok:
		c.greeting.Add(1)
	case time.Until(deadline) > 2*c.bound:
		// The loop's own ping, dialling anew.
	case c.bounded.Add(1) == 1:
		<-ctx.Done()
		// Returns once the first ping (number 1) has ended.
		for ; ; time.Sleep(c.bound / 10) {
			if w := c.w.Load(); w != nil {
				w.mu.Lock()
				ended := w.pinging != 1
				w.mu.Unlock()
				if ended {
					break
				}
			}
		}
		return nil, ctx.Err()
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (c *lateOpinionConnector) Driver() driver.Driver { return nil }

// TestASecondOpinionThatEndsAfterItsPingStillSparesTheNextHandshake: a
// second opinion's new connection taken and not greeted within the bound
// (a server stopped) has the next one wait for its greeting, not be cut at
// its bound too (each cut counts against the server's max_connect_errors).
// Where the second opinion ended after its ping (its goroutine late), that
// was forgotten, and the next ping's onset asked one more with a bound's
// deadline and cut it: TestAStallOfHoursCutsABoundedNumberOfHandshakes
// counted 5 cuts for 4 on a loaded host.
func TestASecondOpinionThatEndsAfterItsPingStillSparesTheNextHandshake(t *testing.T) {
	t.Parallel()
	bound := 50 * time.Millisecond
	c := &lateOpinionConnector{bound: bound}
	w := startStallWatch(c, slog.New(slog.DiscardHandler), bound)
	c.w.Store(w)
	t.Cleanup(w.close)
	waitFor(t, "a second new connection asked", func() bool { return c.bounded.Load()+c.greeting.Load() >= 2 })
	if got := c.bounded.Load(); got != 1 {
		t.Errorf("a stall whose first second opinion ended after its ping: %d new connections asked with a bound's deadline (each cut "+
			"in its handshake), %d asked to wait for their greeting; want 1, then those that wait", got, c.greeting.Load())
	}
}

// TestTheStatementsWatchedWhenAStallBeginsAreCutAndNoOthers: the watch's
// registry of statements (until, and a read statement's watch), under
// stalls beginning and ending while many statements register and stop. A
// statement watched when a stall begins is ended with its refusal; one
// ended so had a stall begin while it was watched; and once all have
// stopped none is left in the registry.
func TestTheStatementsWatchedWhenAStallBeginsAreCutAndNoOthers(t *testing.T) {
	t.Parallel()
	// Each way of watching a statement: it returns the statement's context
	// (ended at once if a stall is on) and its release, which returns the
	// stall's error if one ended it.
	ways := map[string]func(w *stallWatch) (context.Context, func() error){
		"until": func(w *stallWatch) (context.Context, func() error) {
			ctx, release := w.until(context.Background())
			return ctx, func() error {
				release()
				if cause := context.Cause(ctx); isStall(cause) {
					return cause
				}
				return nil
			}
		},
		"watch": func(w *stallWatch) (context.Context, func() error) {
			ctx, cancel := context.WithCancel(context.Background())
			id, err := w.watch(cancel)
			if err != nil {
				cancel()
				return ctx, func() error { return err }
			}
			return ctx, func() error {
				defer cancel()
				if se := w.unwatch(id); se != nil {
					if ctx.Err() == nil {
						return fmt.Errorf("cut (%v) with its context not ended", se)
					}
					return se
				}
				if ctx.Err() != nil {
					return fmt.Errorf("not cut, its context ended: %w", ctx.Err())
				}
				return nil
			}
		},
	}
	for name, watch := range ways {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			statementsWatchedWhenAStallBeginsAreCut(t, watch)
		})
	}
}

func statementsWatchedWhenAStallBeginsAreCut(t *testing.T, watch func(w *stallWatch) (context.Context, func() error)) {
	t.Helper()
	w := &stallWatch{words: writerWords, log: slog.New(slog.DiscardHandler)}
	w.begun, w.onBegin = context.WithCancel(context.Background())
	var begins atomic.Int64 // stalls begun, each counted in the same hold of w.mu as its sweep
	stop := make(chan struct{})
	toggled := make(chan struct{})
	go func() {
		defer close(toggled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			w.mu.Lock()
			w.begin(time.Now())
			begins.Add(1)
			w.mu.Unlock()
			w.mu.Lock()
			w.end()
			w.mu.Unlock()
		}
	}()
	const statements = 16
	var wg sync.WaitGroup
	var cut, uncut atomic.Int64
	for range statements {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				before := begins.Load()
				ctx, release := watch(w)
				if ctx.Err() != nil {
					release() // refused: a stall was on
					continue
				}
				watched := begins.Load()
				if watched%3 == 0 {
					runtime.Gosched()
				}
				ended := begins.Load()
				err := release()
				after := begins.Load()
				stalled := isStall(err)
				switch {
				case err != nil && !stalled:
					t.Errorf("a statement's release: %v", err)
					return
				case ended > watched && !stalled:
					t.Errorf("a statement watched while a stall began: ended with %v; want the stall's refusal", err)
					return
				case stalled && after == before:
					t.Errorf("a statement watched while no stall began was ended with %v; want it left alone", err)
					return
				case stalled:
					cut.Add(1)
				default:
					uncut.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-toggled
	// No stall on now (the toggler ends each with end): statements that
	// stop must leave the registry, not wait for a stall to clear it.
	for range 100 {
		_, release := watch(w)
		if err := release(); err != nil {
			t.Errorf("a statement watched with no stall on: %v; want it left alone", err)
		}
	}
	w.mu.Lock()
	left, cutLeft := len(w.watched), len(w.cut)
	w.mu.Unlock()
	if left != 0 || cutLeft != 0 {
		t.Errorf("all statements stopped: %d left in the registry, %d of its cut; want none", left, cutLeft)
	}
	t.Logf("%d statements cut by a stall, %d not", cut.Load(), uncut.Load())
}
