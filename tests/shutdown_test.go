package tests

import (
	"context"
	"database/sql"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdRequestOpen starts an append whose body never arrives in full, from a
// raw connection: its handler waits for the rest until the request timeout,
// and a graceful drain waits for it. It returns once the server has the
// request.
func holdRequestOpen(t *testing.T, s *server) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", hostPort(s.URL), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "POST /streams/" + newID() + "/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"stream_type\":\"t\",\"events\":[{\"type\":\"Slow\",\"data\":{\"pad\":\""
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("send the start of an append: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the handler now reads the body
}

// signalAndWaitFor sends sig to the server and waits until its log has a
// line whose msg is msg, failing after 5 s.
func (s *server) signalAndWaitFor(t *testing.T, sig os.Signal, msg string) {
	t.Helper()
	s.crashed = true // the test reads the exit status itself
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal the server: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, l := range s.logLines() {
			if l["msg"] == msg {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line within 5 s of %v; output:\n%s", msg, sig, s.output(8192))
		}
	}
}

// waitExit waits up to within for the server to exit, killing it past
// that, and returns how long it took and its exit status (-1 if killed).
func (s *server) waitExit(within time.Duration) (took time.Duration, code int) {
	start := time.Now()
	select {
	case <-s.exited:
		return time.Since(start), s.exitCode
	case <-time.After(within):
		s.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-s.exited
		return time.Since(start), -1
	}
}

// TestASecondSignalCutsTheDrainShort: a second SIGTERM or SIGINT while the
// server drained was swallowed, and an operator who pressed Ctrl-C again,
// or an orchestrator that signalled twice, waited for the whole drain. The
// second signal must stop the server at once, with a log line saying the
// drain was cut short and a non-zero exit status.
func TestASecondSignalCutsTheDrainShort(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		first, second := syscall.SIGTERM, syscall.SIGTERM
		if s.DSN == "" {
			first, second = syscall.SIGINT, syscall.SIGINT
		}
		holdRequestOpen(t, s)
		s.signalAndWaitFor(t, first, "shutting down")
		time.Sleep(500 * time.Millisecond)
		select {
		case <-s.exited:
			t.Fatalf("the server exited (status %d) after the first signal with a request open; expected it to drain. Output:\n%s", s.exitCode, s.output(8192))
		default:
		}
		if err := s.cmd.Process.Signal(second); err != nil {
			t.Fatal(err)
		}
		took, code := s.waitExit(5 * time.Second)
		if code <= 0 || took > 2*time.Second {
			t.Fatalf("a second %v during the drain: expected a non-zero exit status within 2 s; got %d after %s. Output:\n%s",
				second, code, took.Round(time.Millisecond), s.output(8192))
		}
		if !strings.Contains(s.output(8192), "drain cut short") {
			t.Errorf("a second %v during the drain: expected a log line saying the drain was cut short; output:\n%s", second, s.output(8192))
		}
	}, "TRIBUTARY_SHUTDOWN_TIMEOUT=60s", "TRIBUTARY_REQUEST_TIMEOUT=60s")
}

// TestTheShutdownTimeoutBoundsTheWholeStop: past TRIBUTARY_SHUTDOWN_TIMEOUT
// the server waited again, for the request timeout and 10 s more, so that
// TRIBUTARY_SHUTDOWN_TIMEOUT=5s with the default request timeout stopped
// after 45 s, long after an orchestrator given 5 s (Kubernetes'
// terminationGracePeriodSeconds, docker stop --time) had killed it. The
// process must be gone within the timeout it was given, having let
// requests run for most of it; what is still running then is cut, and the
// exit status says so.
func TestTheShutdownTimeoutBoundsTheWholeStop(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		holdRequestOpen(t, s)
		start := time.Now()
		s.signalAndWaitFor(t, syscall.SIGTERM, "shutting down")
		_, code := s.waitExit(15 * time.Second)
		took := time.Since(start)
		if took < 2*time.Second || took > 4*time.Second {
			t.Errorf("TRIBUTARY_SHUTDOWN_TIMEOUT=3s with a request held open: the server exited after %s; expected close to 3 s, not before 2 s nor past 4 s. Output:\n%s",
				took.Round(time.Millisecond), s.output(8192))
		}
		if code != 1 {
			t.Errorf("TRIBUTARY_SHUTDOWN_TIMEOUT=3s with a request held open: exit status %d; expected 1, the drain not finished", code)
		}
	}, "TRIBUTARY_SHUTDOWN_TIMEOUT=3s", "TRIBUTARY_REQUEST_TIMEOUT=30s")
}

// TestSIGTERMWhileATokensFIFOIsAwaitedStopsCleanly: a tokens file that is a
// FIFO nobody writes hung the start-up, deaf to SIGTERM (docker stop waited
// for its SIGKILL). SIGTERM stops it at once, as it does while the
// database is awaited: exit status 0 and a "stopped" line.
func TestSIGTERMWhileATokensFIFOIsAwaitedStopsCleanly(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "tokens")
	if err := mkfifo(name); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := launchServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS_FILE="+name, "TRIBUTARY_STARTUP_TIMEOUT=60s")
	s.crashed = true // the test reads the exit status itself
	for deadline := time.Now().Add(startTimeout); !strings.Contains(s.output(8192), `"starting"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no \"starting\" line within %s; output:\n%s", startTimeout, s.output(8192))
		}
	}
	time.Sleep(300 * time.Millisecond) // now waiting for the FIFO
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	took, code := s.waitExit(5 * time.Second)
	if code != 0 || took > 2*time.Second || !strings.Contains(s.output(8192), `"stopped"`) {
		t.Errorf("SIGTERM while the tokens FIFO was awaited: expected exit status 0 within 2 s and a \"stopped\" line; got %d after %s. Output:\n%s",
			code, took.Round(time.Millisecond), s.output(8192))
	}
}

// TestSIGHUPDrainsAsSIGTERMDoes: SIGHUP (a closed terminal, an operator
// who sends it hoping for a reload) killed the process at once, exit 129,
// with no drain and no log line: requests in flight were cut and
// subscriptions dropped without their clean end. It stops the server as
// SIGTERM does. (Started with SIGHUP ignored, under nohup, it stays
// ignored.)
func TestSIGHUPDrainsAsSIGTERMDoes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.signalAndWaitFor(t, syscall.SIGHUP, "shutting down")
	if _, code := s.waitExit(10 * time.Second); code != 0 {
		t.Fatalf("SIGHUP: exit status %d; want 0 after a drain. Output:\n%s", code, s.output(8192))
	}
}

// TestSIGTERMEndsSubscriptionsCatchingUpWhileTheirReadsWaitOnTheDatabase:
// subscriptions catching up from history, for clients that read nothing,
// went on reading after SIGTERM with a context that only their clients'
// leaving ended: a read waiting on the database (here on a table another
// session locked; in the field on a read pool taken by a hundred others,
// each read then writing for 2 s more) held the drain until the shutdown
// timeout, and the process exited 1. SIGTERM ends those reads at once, and
// the process exits 0 within a few seconds. MySQL only: no session of the
// embedded store can keep another from reading.
func TestSIGTERMEndsSubscriptionsCatchingUpWhileTheirReadsWaitOnTheDatabase(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_SHUTDOWN_TIMEOUT=10s", "TRIBUTARY_POLL_INTERVAL=50ms")
	stream := newID()
	for range 4 {
		s.mustAppend(t, stream, appendBody{StreamType: "big", Events: bigBatch(5, 100_000)})
	}
	// With no subscription open, the live feed moves its head past them
	// at its next poll and keeps none of them: those that subscribe from
	// here on read them from the database, which the lock then keeps them
	// from.
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES events WRITE"); err != nil {
		t.Fatalf("lock the events table: %v", err)
	}
	t.Cleanup(func() {
		conn.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck
		conn.Close()
	})
	const stalled = 40
	for range stalled {
		stallOn(t, s, "/events", "Accept: text/event-stream\r\n")
	}
	time.Sleep(500 * time.Millisecond) // each now waits on its first read of history
	start := time.Now()
	s.signalAndWaitFor(t, syscall.SIGTERM, "shutting down")
	_, code := s.waitExit(20 * time.Second)
	if took := time.Since(start); code != 0 || took > 4*time.Second {
		t.Errorf("SIGTERM with %d subscriptions catching up whose reads waited on the database: exit status %d after %s; "+
			"expected 0 within 4 s (shutdown timeout 10 s). Output:\n%s", stalled, code, took.Round(time.Millisecond), s.output(4096))
	}
}
