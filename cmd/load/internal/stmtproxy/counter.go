// Package stmtproxy counts and times the statements one process sends to a
// MySQL or MariaDB server: a TCP proxy between them, run in a child process
// of the load tool (this same binary, "load statement-proxy").
//
// It exists until the server exports its own statement counts on /metrics;
// then the load tool reads those and this package goes, with the
// -count-statements flag of "load subscribers".
package stmtproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MySQL client/server protocol command bytes that are counted.
const (
	comQuery       = 0x03
	comStmtExecute = 0x17
)

// statementCounter is a TCP proxy between the server under test and the
// database that counts the statements the server sends. Unlike the database
// server's global status, it sees this server's connections only, so other
// clients of a shared database server do not distort the figures.
//
// It reads the client-to-server direction only: every packet with sequence
// number 0 starts a command. A COM_QUERY is classified by its first word:
// START TRANSACTION or BEGIN opens a transaction on its connection, COMMIT
// or ROLLBACK ends it, and a SELECT outside a transaction is a plain read —
// in a run of "load subscribers", the live feed's (its tailer and the subscriptions'
// catch-up), while the appends' reads are inside their transactions.
// Executions of server-side prepared statements count as statements,
// unclassified: the store interpolates parameters, so it sends none unless
// its DSN asks for interpolateParams=false.
//
// It also times the statements of transactions (the appends'): how long
// the database took to start answering each, and how long the server under
// test took after an answer to send the transaction's next statement. The
// second is where a busy server process shows: a write transaction is
// several round trips in a row, each waiting for the process to run again.
type statementCounter struct {
	ln   net.Listener
	dial func(ctx context.Context) (net.Conn, error)
	n    statementCounts

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	tmu     sync.Mutex
	dbWait  []time.Duration // per statement in a transaction: sent → first answer
	between []time.Duration // per statement in a transaction after the first: last answer → sent
}

// connTiming is what the two directions of one connection share.
type connTiming struct {
	mu       sync.Mutex
	sent     time.Time // when the command awaiting an answer was sent; zero when none
	sentInTx bool      // that command is part of a transaction
	answered time.Time // when the last bytes from the database arrived
}

// statementCounts are cumulative counts of a statementCounter.
type statementCounts struct {
	statements atomic.Int64 // COM_QUERY and COM_STMT_EXECUTE
	selects    atomic.Int64 // COM_QUERY starting with SELECT
	reads      atomic.Int64 // of which outside a transaction
	commits    atomic.Int64 // COMMIT statements
}

// startStatementCounter listens on 127.0.0.1 and forwards each connection to
// the database server at addr over network ("tcp" or "unix").
func startStatementCounter(network, addr string) (*statementCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("statement counter: %w", err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c := &statementCounter{
		ln:    ln,
		dial:  func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, network, addr) },
		conns: make(map[net.Conn]struct{}),
	}
	c.wg.Go(c.accept)
	return c, nil
}

// Addr is where the server under test should connect.
func (c *statementCounter) Addr() string { return c.ln.Addr().String() }

// Counts are cumulative statement counts at one moment.
type Counts struct {
	At         time.Time
	Statements int64 // COM_QUERY and COM_STMT_EXECUTE
	Selects    int64 // COM_QUERY starting with SELECT
	Reads      int64 // of which outside a transaction
	Commits    int64 // COMMIT statements
}

// counts returns the cumulative counts.
func (c *statementCounter) counts() Counts {
	return Counts{
		At:         time.Now(),
		Statements: c.n.statements.Load(),
		Selects:    c.n.selects.Load(),
		Reads:      c.n.reads.Load(),
		Commits:    c.n.commits.Load(),
	}
}

// Close stops accepting, closes every connection and waits for the copies.
func (c *statementCounter) Close() {
	c.mu.Lock()
	c.closed = true
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.ln.Close()
	c.wg.Wait()
}

// track registers conn to be closed by Close; it reports false, and closes
// conn, if Close has already run.
func (c *statementCounter) track(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return false
	}
	c.conns[conn] = struct{}{}
	return true
}

func (c *statementCounter) untrack(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.conns, conn)
	conn.Close()
}

func (c *statementCounter) accept() {
	for {
		client, err := c.ln.Accept()
		if err != nil {
			return // closed
		}
		if !c.track(client) {
			return
		}
		c.wg.Go(func() { c.forward(client) })
	}
}

// forward copies one connection both ways, counting commands on the way in.
func (c *statementCounter) forward(client net.Conn) {
	defer c.untrack(client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	server, err := c.dial(ctx)
	cancel()
	if err != nil {
		return // the server under test sees the connection close and reports it
	}
	if !c.track(server) {
		return
	}
	defer c.untrack(server)
	var t connTiming
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.copyAnswers(client, server, &t) //nolint:errcheck // either side closing ends the connection
		client.Close()
	}()
	c.countCommands(bufio.NewReaderSize(client, 64<<10), server, &t) //nolint:errcheck // as above
	server.Close()
	<-done
}

// copyAnswers copies from the database to the server under test, noting
// when answers arrive.
func (c *statementCounter) copyAnswers(w io.Writer, r io.Reader, t *connTiming) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			now := time.Now()
			t.mu.Lock()
			if !t.sent.IsZero() && t.sentInTx {
				c.record(&c.dbWait, now.Sub(t.sent))
			}
			t.sent, t.answered = time.Time{}, now
			t.mu.Unlock()
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
	}
}

func (c *statementCounter) record(to *[]time.Duration, d time.Duration) {
	c.tmu.Lock()
	*to = append(*to, d)
	c.tmu.Unlock()
}

// timings returns how many statement timings have been recorded so far, to
// mark the start or end of a window for timingsBetween.
func (c *statementCounter) timings() (dbWait, between int) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return len(c.dbWait), len(c.between)
}

// timingsBetween returns the timings recorded between two marks.
func (c *statementCounter) timingsBetween(fromDB, fromBetween, toDB, toBetween int) (dbWait, between []time.Duration) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return slices.Clone(c.dbWait[fromDB:toDB]), slices.Clone(c.between[fromBetween:toBetween])
}

// countCommands copies packets from r to w and counts the commands of one
// connection. t may be nil when nothing is timed.
func (c *statementCounter) countCommands(r *bufio.Reader, w io.Writer, t *connTiming) error {
	packet := make([]byte, 4, 4+1024) // the header (length, sequence number), then the payload
	inTx := false
	for {
		packet = packet[:4]
		if _, err := io.ReadFull(r, packet); err != nil {
			return err
		}
		n := int(packet[0]) | int(packet[1])<<8 | int(packet[2])<<16
		packet = slices.Grow(packet, n)[:4+n]
		if _, err := io.ReadFull(r, packet[4:]); err != nil {
			return err
		}
		if packet[3] == 0 && n > 0 { // a new command
			wasInTx := inTx
			inTx = c.count(packet[4:], inTx)
			if t != nil {
				c.timeCommand(t, wasInTx, wasInTx || inTx)
			}
		}
		if _, err := w.Write(packet); err != nil {
			return err
		}
	}
}

// timeCommand notes that a command is being sent: afterAnswer says it
// follows an answer in the same transaction, inTx that it is part of one.
func (c *statementCounter) timeCommand(t *connTiming, afterAnswer, inTx bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if afterAnswer && t.sent.IsZero() && !t.answered.IsZero() {
		c.record(&c.between, now.Sub(t.answered))
	}
	t.sent, t.sentInTx = now, inTx
}

// count counts one command, sent in a transaction or not, and reports
// whether the connection is in a transaction after it.
func (c *statementCounter) count(cmd []byte, inTx bool) bool {
	switch cmd[0] {
	case comStmtExecute:
		c.n.statements.Add(1)
	case comQuery:
		c.n.statements.Add(1)
		switch word := firstWord(cmd[1:]); {
		case equalFold(word, "SELECT"):
			c.n.selects.Add(1)
			if !inTx {
				c.n.reads.Add(1)
			}
		case equalFold(word, "START"), equalFold(word, "BEGIN"):
			return true
		case equalFold(word, "COMMIT"):
			c.n.commits.Add(1)
			return false
		case equalFold(word, "ROLLBACK"):
			return false
		}
	}
	return inTx
}

// firstWord returns the first word of a statement, after white space,
// comments and opening parentheses.
func firstWord(q []byte) []byte {
	for {
		q = bytes.TrimLeft(q, " \t\r\n(")
		switch {
		case bytes.HasPrefix(q, []byte("/*")):
			end := bytes.Index(q[2:], []byte("*/"))
			if end < 0 {
				return nil
			}
			q = q[2+end+2:]
		case bytes.HasPrefix(q, []byte("-- ")), bytes.HasPrefix(q, []byte("#")):
			end := bytes.IndexByte(q, '\n')
			if end < 0 {
				return nil
			}
			q = q[end+1:]
		default:
			end := 0
			for end < len(q) && isWordByte(q[end]) {
				end++
			}
			return q[:end]
		}
	}
}

func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}
