// Package faultproxy forwards TCP connections to a server and can cut it
// off, for tests of what a client does when its database goes away and comes
// back: Cut closes the listener and every connection (the client finds the
// server gone, connection refused), Restore listens on the same address again.
// CutAfter cuts one connection the moment it has sent the server a given
// request, before the answer comes back: the request is handed to the
// server (written whole, then the connection closed), which runs it in its
// own time, and the client never hears how it went. HoldAfter holds such a request back until the test releases it:
// a request on its way, which the server runs after the client gave up.
// CutAnswerAfter lets the first bytes of a request's answer through, then
// cuts the connection: a connection lost midway through a result;
// StallAnswerAfter lets them through and then goes silent, the connection
// kept open: a connection black-holed midway through a result.
// Stall stops every byte both ways while the connections stay open, as a
// server stopped with SIGSTOP or a network that drops what it carries
// without a reset; Resume passes them on again. AnswerInstead answers some
// requests itself, never passing them on, as a proxy's rule that refuses a
// statement does. Hollow makes it a proxy with no server behind it: it
// accepts each connection and closes it at once.
package faultproxy

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// Proxy is one forwarder on 127.0.0.1. It stops at the end of the test that
// started it.
type Proxy struct {
	target string
	addr   string
	wg     sync.WaitGroup
	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	after  func([]byte) bool // set by CutAfter or HoldAfter; nil once it has cut or held
	cut    chan struct{}     // closed when after has cut a connection, or held a chunk
	hold   chan struct{}     // HoldAfter's: closed to release the chunk held; nil for CutAfter
	held   net.Conn          // the server's side of the connection whose chunk is held
	stop   chan struct{}     // closed when the test ends: a chunk still held is dropped
	// stalled is closed by Resume; nil while bytes pass (Stall).
	stalled chan struct{}
	// instead and answer are AnswerInstead's; instead is nil while every
	// chunk is passed on.
	instead func([]byte) bool
	answer  []byte
	hollow  bool // Hollow: each connection accepted is closed at once
	// answerAfter, answerBytes and answerCut are CutAnswerAfter's arm;
	// answerAfter is nil once a connection has claimed it.
	answerAfter func([]byte) bool
	answerBytes int
	answerCut   chan struct{}
	answerStall bool // StallAnswerAfter's arm: the answer goes silent, not cut
}

// pair is what the two copies of one connection share: CutAnswerAfter's
// cut, once its request went out on it.
type pair struct {
	mu    sync.Mutex
	left  int           // bytes of the answer still passed before the cut; -1: none due
	cut   chan struct{} // closed once cut
	stall bool          // the answer goes silent there, the connection kept open (StallAnswerAfter)
}

// arm has the answer cut after n bytes more, and cut closed then.
func (pr *pair) arm(n int, cut chan struct{}, stall bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.left, pr.cut, pr.stall = n, cut, stall
}

// take returns how many of n bytes of the answer pass, and, if the cut is
// due after them, the channel to close once it has cut, and whether the
// answer is to go silent there rather than be cut (StallAnswerAfter).
func (pr *pair) take(n int) (int, chan struct{}, bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.left < 0 || n < pr.left {
		if pr.left >= 0 {
			pr.left -= n
		}
		return n, nil, false
	}
	k, cut, stall := pr.left, pr.cut, pr.stall
	pr.left, pr.cut, pr.stall = -1, nil, false
	return k, cut, stall
}

// Start listens on 127.0.0.1, on a port from freeport, and forwards each
// connection to target. Not port 0: Restore listens on the port again after
// a cut, and one from the ephemeral range can be given meanwhile to any
// process that listens on port 0 or dials out.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln := freeport.Listen(t)
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	p.serve(ln)
	t.Cleanup(func() {
		close(p.stop)
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the address the proxy listens on, host:port.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to, host:port.
func (p *Proxy) Target() string { return p.target }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // cut
			}
			p.mu.Lock()
			hollow := p.hollow
			p.mu.Unlock()
			if hollow {
				c.Close()
				continue
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			// Cut, or made hollow, while it dialed (Hollow closed the
			// connections registered then, not this one): it must not
			// live on.
			if p.ln != ln || p.hollow {
				p.mu.Unlock()
				c.Close()
				up.Close()
				continue
			}
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pr := &pair{left: -1}
			p.wg.Go(func() { p.forward(up, c, pr) })
			p.wg.Go(func() { p.copyAnswer(c, up, pr) })
		}
	})
}

func (p *Proxy) pipe(dst, src net.Conn) { p.copyAnswer(dst, src, nil) }

// copyAnswer copies what the server sends to the client (pipe, where pr is
// nil, either way), and, once pr has a cut due (CutAnswerAfter), cuts the
// pair after the bytes it lets through.
func (p *Proxy) copyAnswer(dst, src net.Conn, pr *pair) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				break
			}
			var cut chan struct{}
			var stall bool
			if pr != nil {
				n, cut, stall = pr.take(n)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil && cut == nil {
				break
			}
			if cut != nil && stall {
				// Silent from here: nothing more of the server's reaches
				// the client, and neither side is closed (no FIN, no
				// reset), until the client closes its side (forward
				// then closes the pair) or the test ends.
				close(cut)
				<-p.stop
				break
			}
			if cut != nil {
				// Both sides, the client's first: it has what went
				// through, and then finds its connection gone.
				dst.Close()
				src.Close()
				close(cut)
				break
			}
		}
		if err != nil {
			break // either side closing ends the pair
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// forward copies what the client sends to the server, and cuts the pair
// once it has sent a chunk that CutAfter's test matches.
func (p *Proxy) forward(up, c net.Conn, pr *pair) {
	defer p.pipe(up, c) // closes both once the copy ends
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 && !p.pass() {
			return
		}
		if n > 0 {
			p.mu.Lock()
			after, hold, armed, instead, answer := p.after, p.hold, p.cut, p.instead, p.answer
			p.mu.Unlock()
			if instead != nil && instead(buf[:n]) {
				if _, werr := c.Write(answer); werr != nil {
					return
				}
				continue
			}
			claimed := after != nil && after(buf[:n]) && p.claim(armed, up, hold != nil)
			if claimed && hold != nil {
				close(armed)
				select {
				case <-hold:
				case <-p.stop: // a test that ended without release
					return
				}
				// The client's side first: the server's answer finds it
				// closed, and the pipe from the server then closes the pair.
				c.Close()
				up.Write(buf[:n]) //nolint:errcheck // a server gone is the pair closed
				return
			}
			if claimed {
				// The client's side is closed first, so that no byte of the
				// server's answer can reach it, however soon it comes; then
				// the chunk goes whole: the request is in the server's hands.
				c.Close()
				up.Write(buf[:n]) //nolint:errcheck // a server gone is the pair closed
				up.Close()
				close(armed)
				return
			}
			p.mu.Lock()
			answerAfter, answerCut, answerBytes, answerStall := p.answerAfter, p.answerCut, p.answerBytes, p.answerStall
			p.mu.Unlock()
			if answerAfter != nil && answerAfter(buf[:n]) && p.claimAnswer(answerCut) {
				// Armed before the request goes: no byte of its answer
				// can come before.
				pr.arm(answerBytes, answerCut, answerStall)
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// claimAnswer reports whether this caller takes the arm of CutAnswerAfter
// whose channel is armed.
func (p *Proxy) claimAnswer(armed chan struct{}) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.answerAfter == nil || p.answerCut != armed {
		return false
	}
	p.answerAfter = nil
	return true
}

// CutAnswerAfter arms the proxy: the next chunk a client sends for which
// sent returns true is forwarded to the server, and the server's answer on
// that connection is let through for n bytes, then the connection is cut,
// both sides: the client has the beginning of its answer (a result's
// header and some of its rows, say) and then finds the connection gone.
// The channel is closed once it has cut. An answer that ends before n
// bytes leaves the cut due on the next answer on that connection.
func (p *Proxy) CutAnswerAfter(sent func(chunk []byte) bool, n int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answerAfter, p.answerBytes, p.answerCut, p.answerStall = sent, n, make(chan struct{}), false
	return p.answerCut
}

// StallAnswerAfter is CutAnswerAfter, but the answer goes silent after its
// first n bytes rather than being cut: nothing more of the server's reaches
// the client, and the connection stays open both ways (no FIN, no reset),
// as with a proxy or a network path that black-holes a connection midway
// through a result. The channel is closed once the answer has gone silent.
// The client's closing its side closes the pair.
func (p *Proxy) StallAnswerAfter(sent func(chunk []byte) bool, n int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answerAfter, p.answerBytes, p.answerCut, p.answerStall = sent, n, make(chan struct{}), true
	return p.answerCut
}

// claim reports whether this caller is the one to cut, or hold (held then
// being the server's side of its connection), for the arm of CutAfter or
// HoldAfter whose channel is armed, and takes it. The caller closes armed,
// the channel it read with the arm, not p.cut: the test may arm the proxy
// again as soon as its client finds its connection cut, before the signal,
// and p.cut is the new arm's by then.
func (p *Proxy) claim(armed chan struct{}, held net.Conn, hold bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.after == nil || p.cut != armed {
		return false
	}
	p.after = nil
	if hold {
		p.held = held
	}
	return true
}

// HoldAfter arms the proxy: the next chunk a client sends for which sent
// returns true is held back, and nothing more of that connection is
// forwarded; the client waits for an answer that does not come. The channel
// is closed once a chunk is held. release closes the client's side of that
// connection, forwards the chunk to the server, and returns once the
// server's answer to it has come (and found the client gone), or after 10 s;
// call it once the channel is closed.
func (p *Proxy) HoldAfter(sent func(chunk []byte) bool) (held <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	hold := make(chan struct{})
	p.after, p.cut, p.hold = sent, make(chan struct{}), hold
	return p.cut, func() {
		close(hold)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			p.mu.Lock()
			_, open := p.conns[p.held]
			p.mu.Unlock()
			if !open {
				return
			}
		}
	}
}

// CutAfter arms the proxy: the next chunk a client sends for which sent
// returns true is forwarded to the server, and then that connection is cut
// at once, both sides, before the server's answer: the client's side first,
// so that no byte of an answer reaches it. The channel is closed once it
// has cut: the request handed to the server, not yet run, or not yet done
// (a test that needs its effect waits for it on a session of its own).
func (p *Proxy) CutAfter(sent func(chunk []byte) bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.after, p.cut, p.hold = sent, make(chan struct{}), nil
	return p.cut
}

// AnswerInstead arms the proxy until it is called again (sent nil: pass
// every chunk on): each chunk a client sends for which sent returns true is
// not forwarded, and the client is sent answer in its place, on every
// connection, open or new. A proxy's query rule that refuses a statement
// with an error of its own (ProxySQL's error_msg) does this; answer is then
// the protocol's error packet (mysqltest.ErrorPacket).
func (p *Proxy) AnswerInstead(sent func(chunk []byte) bool, answer []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.instead, p.answer = sent, answer
}

// Cut closes the listener and every open connection. Cutting a cut proxy
// does nothing.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.closeConns()
}

// closeConns closes every open connection and forgets them; p.mu is held.
func (p *Proxy) closeConns() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore listens on the same address again. It tries for a few seconds,
// then fails the test.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Hollow closes every open connection, and each one accepted from now on
// at once, before a byte is sent: a proxy or load balancer in front of a
// server that is down (HAProxy, ProxySQL, a cloud's SQL proxy, kubectl
// port-forward). Fill ends it.
func (p *Proxy) Hollow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hollow = true
	p.closeConns()
}

// Fill forwards the connections accepted from now on again (Hollow).
func (p *Proxy) Fill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hollow = false
}

// Stall stops every byte both ways, on the connections open and on those
// made meanwhile (accepted, but the server's greeting held), until Resume:
// the client's writes succeed and its reads wait, as with a server stopped
// with SIGSTOP or a network path that drops everything without a reset.
// Stalling a stalled proxy does nothing.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Resume passes on what Stall held, and every byte after it.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// Stalled reports whether the proxy is stalled (Stall, and no Resume since).
func (p *Proxy) Stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled != nil
}

// pass waits while the proxy is stalled; false if the test ended meanwhile.
func (p *Proxy) pass() bool {
	p.mu.Lock()
	stalled := p.stalled
	p.mu.Unlock()
	if stalled == nil {
		return true
	}
	select {
	case <-stalled:
		return true
	case <-p.stop:
		return false
	}
}
