package mysqlstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestAServerThatDoesNotGreetWithinReadTimeoutIsNotSaidToHaveClosed: an
// address that accepts and sends nothing (a frozen or swapping mysqld whose
// kernel still completes handshakes, MySQL's X Protocol port, a TLS-first
// proxy) made the driver's read of the greeting time out, which was said
// as "accepted the connection and closed it before MySQL's greeting: a
// proxy … with no server behind it?" (hostile reviewer 3's F2). It must
// say that no greeting came within the DSN's readTimeout, as a net.Error
// that timed out (counted unreachable as before).
func TestAServerThatDoesNotGreetWithinReadTimeoutIsNotSaidToHaveClosed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var accepted []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c) // kept open, and silent
			mu.Unlock()
		}
	}()
	cfg, err := mysql.ParseDSN("u:p@tcp(" + ln.Addr().String() + ")/db?readTimeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a hang guard
	defer cancel()
	conn, err := c.Connect(ctx)
	if err == nil {
		conn.Close()
		t.Fatal("Connect to an address that never greets: expected an error, got a connection")
	}
	var ne net.Error
	if ctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() ||
		!strings.Contains(err.Error(), "no greeting within its readTimeout (1s)") || strings.Contains(err.Error(), "closed it") {
		t.Errorf("Connect to an address that accepts and says nothing: expected a net.Error that timed out, saying no greeting came within the readTimeout (1s), not that it closed; got %v", err)
	}
}
