package mysqlstore_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/tcptest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// noGreeting is what the store says of an address that accepts a
// connection and closes it before the server's greeting.
const noGreeting = "accepted the connection and closed it before MySQL's greeting"

// TestAnAddressThatClosesEveryConnectionIsUnreachableAndSaidOnce: a proxy
// or load balancer in front of a MySQL that is down (HAProxy, ProxySQL, a
// cloud's SQL proxy, kubectl port-forward) accepts each connection and
// closes it before the server's greeting. The driver logged its own line
// for each one ("packets.go:58 unexpected EOF"), about ten a second from the
// live feed's polls alone, and the error said "invalid connection", counted
// as unavailable (the operator tester's F11). Such an error is a network
// error, counted unreachable as a refused dial is, saying what the address
// did; the driver's line for a greeting that never came is DEBUG, as the
// outage is said once by those that handle its errors (/readyz, the live
// feed). At start-up the same error says it. Not parallel: it takes the
// driver's log lines, which are the process's.
func TestAnAddressThatClosesEveryConnectionIsUnreachableAndSaidOnce(t *testing.T) {
	var out testlog.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mysqlstore.SetDriverLogger(logger)
	t.Cleanup(func() { _ = mysql.SetLogger(log.New(os.Stderr, "[mysql] ", log.Ldate|log.Ltime|log.Lshortfile)) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	s := openLogged(t, dsn, logger)
	appendVersions(ctx, t, s, uuid.New(), 1)
	p.Hollow()
	// A session of the pool's cut midway may be the first to fail.
	s.ReadAll(ctx, eventstore.ReadAllOptions{}) //nolint:errcheck // either way
	for range 5 {
		_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
		var ne net.Error
		if !errors.Is(err, eventstore.ErrUnavailable) || !errors.As(err, &ne) || !strings.Contains(err.Error(), noGreeting) {
			t.Fatalf("a read, the database's address closing every connection: %v; want a network error wrapping ErrUnavailable, saying %q", err, noGreeting)
		}
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), noGreeting) {
		t.Errorf("Ping, the database's address closing every connection: %v; want an error saying %q", err, noGreeting)
	}
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "mysql driver") && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("the driver's line for a connection closed before the greeting: %s; want it at DEBUG only", line)
		}
	}
	p.Fill()
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Errorf("a read once the proxy forwards again: %v", err)
	}

	// Closed, and reset (a proxy's RST: SO_LINGER 0), before a byte.
	closed := tcptest.Serve(t, func(c net.Conn) {})
	reset := tcptest.Serve(t, func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) }) //nolint:errcheck // a test's peer
	for _, addr := range []string{closed, reset} {
		openCtx, cancelOpen := context.WithTimeout(ctx, 20*time.Second)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = addr
		again, err := mysqlstore.Open(openCtx, cfg.FormatDSN(), mysqlstore.Options{Logger: logger})
		cancelOpen()
		if err == nil {
			again.Close()
			t.Fatalf("Open on %s, which closes every connection: it opened", addr)
		}
		// A reset may come before the dial returns: a dial's own error.
		var ne net.Error
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), noGreeting) && !(addr == reset && strings.Contains(err.Error(), "connection reset")) {
			t.Errorf("Open on %s, which closes every connection: %v; want a network error saying %q", addr, err, noGreeting)
		}
	}
}
