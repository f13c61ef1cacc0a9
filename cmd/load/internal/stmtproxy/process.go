package stmtproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// Command is the hidden first argument that makes the load tool run as the
// statement proxy: load statement-proxy NETWORK ADDRESS. Its main must hand
// such a call to RunChild.
const Command = "statement-proxy"

// proxyTimeout bounds each exchange with the proxy process.
const proxyTimeout = 10 * time.Second

// Proxy runs a statement counter in a child process (this same binary), so
// that the statements of the server under test, which pass
// through it twice each, do not queue behind a thousand subscriber
// goroutines in this process. It is asked for its counts over its stdin and
// answers one JSON line on its stdout; it exits when its stdin closes.
type Proxy struct {
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	toChild *os.File
	replies *bufio.Reader
	pipe    *os.File // the read end under replies, for deadlines

	dbWait, between []time.Duration // every timing received so far
}

// Mark is the proxy's counts at one moment, with marks in its timings.
type Mark struct {
	Counts            Counts
	dbWaits, betweens int
}

// proxyReply is one answer of the proxy process: cumulative counts, and the
// timings recorded since the previous answer.
type proxyReply struct {
	Addr       string  `json:"addr,omitempty"` // in the first line only
	Statements int64   `json:"statements"`
	Selects    int64   `json:"selects"`
	Reads      int64   `json:"reads"`
	Commits    int64   `json:"commits"`
	DBWaitNs   []int64 `json:"db_wait_ns,omitempty"`
	BetweenNs  []int64 `json:"between_ns,omitempty"`
}

// Start starts the proxy process in front of the database server at
// network/addr, with attr (nil for none), and waits until it listens.
func Start(network, addr string, attr *syscall.SysProcAttr) (*Proxy, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("statement proxy: find this binary: %w", err)
	}
	toChild, childIn, err := pipe()
	if err != nil {
		return nil, err
	}
	childOut, fromChild, err := pipe()
	if err != nil {
		return nil, err
	}
	p := &Proxy{toChild: childIn, pipe: childOut, replies: bufio.NewReaderSize(childOut, 64<<10), exited: make(chan struct{})}
	p.cmd = exec.Command(self, Command, network, addr)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = toChild, fromChild, os.Stderr
	p.cmd.SysProcAttr = attr
	err = p.cmd.Start()
	toChild.Close()
	fromChild.Close()
	if err != nil {
		p.toChild.Close()
		p.pipe.Close()
		return nil, fmt.Errorf("statement proxy: start: %w", err)
	}
	go func() {
		p.cmd.Wait() //nolint:errcheck // an early exit shows as a failed exchange
		close(p.exited)
	}()
	hello, err := p.read()
	if err != nil {
		p.Close()
		return nil, err
	}
	p.addr = hello.Addr
	return p, nil
}

// pipe returns the read and write ends of a new pipe, as os.Pipe, with
// "statement proxy" context on error.
func pipe() (r, w *os.File, err error) {
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, fmt.Errorf("statement proxy: %w", err)
	}
	return r, w, nil
}

// Addr is where the server under test should connect.
func (p *Proxy) Addr() string { return p.addr }

// Pid is the proxy process's id; 0 if p is nil.
func (p *Proxy) Pid() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Mark asks the proxy for its counts. A nil proxy has counted nothing.
func (p *Proxy) Mark() (Mark, error) {
	if p == nil {
		return Mark{Counts: Counts{At: time.Now()}}, nil
	}
	at := time.Now()
	if _, err := p.toChild.Write([]byte("counts\n")); err != nil {
		return Mark{}, fmt.Errorf("statement proxy: %w", err)
	}
	r, err := p.read()
	if err != nil {
		return Mark{}, err
	}
	for _, ns := range r.DBWaitNs {
		p.dbWait = append(p.dbWait, time.Duration(ns))
	}
	for _, ns := range r.BetweenNs {
		p.between = append(p.between, time.Duration(ns))
	}
	return Mark{
		Counts:   Counts{At: at, Statements: r.Statements, Selects: r.Selects, Reads: r.Reads, Commits: r.Commits},
		dbWaits:  len(p.dbWait),
		betweens: len(p.between),
	}, nil
}

// TimingsBetween returns the statement timings recorded between two marks:
// per statement of a transaction, how long the database took to start
// answering it, and how long the client then took to send the next one.
func (p *Proxy) TimingsBetween(from, to Mark) (dbWait, between []time.Duration) {
	if p == nil {
		return nil, nil
	}
	return slices.Clone(p.dbWait[from.dbWaits:to.dbWaits]), slices.Clone(p.between[from.betweens:to.betweens])
}

func (p *Proxy) read() (proxyReply, error) {
	p.pipe.SetReadDeadline(time.Now().Add(proxyTimeout)) //nolint:errcheck // pipes support deadlines on Linux; elsewhere it waits
	line, err := p.replies.ReadBytes('\n')
	if err != nil {
		return proxyReply{}, fmt.Errorf("statement proxy: no answer: %w", err)
	}
	var r proxyReply
	if err := json.Unmarshal(line, &r); err != nil {
		return proxyReply{}, fmt.Errorf("statement proxy: bad answer %q: %w", truncate(string(line), 200), err)
	}
	return r, nil
}

// Close ends the proxy process: it exits when its stdin closes, or is
// killed after a few seconds.
func (p *Proxy) Close() {
	if p == nil {
		return
	}
	p.toChild.Close()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-p.exited
	}
	p.pipe.Close()
}

// RunChild is the proxy process: args are the database server's network
// and address. It answers each line of stdin with a proxyReply on stdout,
// and returns when stdin ends.
func RunChild(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: load " + Command + " NETWORK ADDRESS (started by the load tool itself)")
	}
	c, err := startStatementCounter(args[0], args[1])
	if err != nil {
		return err
	}
	defer c.Close()
	enc := json.NewEncoder(stdout)
	if err := enc.Encode(proxyReply{Addr: c.Addr()}); err != nil {
		return err
	}
	lines := bufio.NewScanner(stdin)
	sentDB, sentBetween := 0, 0
	for lines.Scan() && ctx.Err() == nil {
		n := c.counts()
		toDB, toBetween := c.timings()
		dbWait, between := c.timingsBetween(sentDB, sentBetween, toDB, toBetween)
		sentDB, sentBetween = toDB, toBetween
		r := proxyReply{Statements: n.Statements, Selects: n.Selects, Reads: n.Reads, Commits: n.Commits}
		for _, d := range dbWait {
			r.DBWaitNs = append(r.DBWaitNs, int64(d))
		}
		for _, d := range between {
			r.BetweenNs = append(r.BetweenNs, int64(d))
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return lines.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
