// Package tcptest serves raw TCP connections to tests that need a peer no
// HTTP server would be: one that accepts and never answers (a database
// stopped with SIGSTOP, a hung host), or one whose every byte the test
// writes by hand.
package tcptest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Serve listens on 127.0.0.1, hands each connection it accepts to handle
// in a goroutine of its own, closing it when handle returns, and returns
// the address. At the test's end it stops listening, closes the
// connections still open (a handle blocked reading or writing one returns)
// and waits for every handle to return.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		open   = map[net.Conn]struct{}{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			open[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Silent listens on 127.0.0.1 and returns the address: it accepts every
// connection and never answers, reading and dropping what is sent, until
// the test's end.
func Silent(t testing.TB) string {
	t.Helper()
	return Serve(t, func(c net.Conn) { io.Copy(io.Discard, c) }) //nolint:errcheck // it ends when the connection does
}
