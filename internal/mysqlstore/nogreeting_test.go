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
	out, logger := takeDriverLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	s := openLogged(t, dsn, logger)
	appendVersions(ctx, t, s, uuid.New(), 1)
	p.Hollow()
	readsSayNoGreeting(ctx, t, s, "the database's")
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), noGreeting) {
		t.Errorf("Ping, the database's address closing every connection: %v; want an error saying %q", err, noGreeting)
	}
	driverSaidOnlyDebug(t, out, "a connection")
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

// takeDriverLog gives the driver's log lines to a JSON logger at DEBUG,
// returned with the buffer it writes, until the test ends. The lines are
// the process's: a test that calls it must not be parallel.
func takeDriverLog(t *testing.T) (*testlog.Buffer, *slog.Logger) {
	t.Helper()
	out := new(testlog.Buffer)
	logger := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mysqlstore.SetDriverLogger(logger)
	t.Cleanup(func() { _ = mysql.SetLogger(log.New(os.Stderr, "[mysql] ", log.Ldate|log.Ltime|log.Lshortfile)) })
	return out, logger
}

// readsSayNoGreeting fails the test unless five reads of s, whose address
// (whose: "the database's" or "the replica's") closes every connection
// before the greeting, each fail as a network error wrapping ErrUnavailable
// saying noGreeting. A read before them may fail otherwise: a session of
// the pool's cut midway.
func readsSayNoGreeting(ctx context.Context, t *testing.T, s *mysqlstore.Store, whose string) {
	t.Helper()
	s.ReadAll(ctx, eventstore.ReadAllOptions{}) //nolint:errcheck // either way
	for range 5 {
		_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
		var ne net.Error
		if !errors.Is(err, eventstore.ErrUnavailable) || !errors.As(err, &ne) || !strings.Contains(err.Error(), noGreeting) {
			t.Fatalf("a read, %s address closing every connection: %v; want a network error wrapping ErrUnavailable, saying %q", whose, err, noGreeting)
		}
	}
}

// driverSaidOnlyDebug fails the test if the driver logged to out, above
// DEBUG, its line for what (a connection) closed before the greeting.
func driverSaidOnlyDebug(t *testing.T, out *testlog.Buffer, what string) {
	t.Helper()
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "mysql driver") && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("the driver's line for %s closed before the greeting: %s; want it at DEBUG only", what, line)
		}
	}
}
