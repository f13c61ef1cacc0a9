package faultproxy

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// TestAProxyListensOutsideTheEphemeralRange: Restore listens again on the
// address Start took, after a cut that lasts as long as the test wants (a
// minute in a Galera test, while the service dials it all along). A port
// from the ephemeral range (what listening on port 0 hands out) can be
// given meanwhile to any process that listens on port 0 or dials out, and
// Restore then fails; outside the range, only a process that asks for the
// port by number can take it.
func TestAProxyListensOutsideTheEphemeralRange(t *testing.T) {
	t.Parallel()
	p := Start(t, "127.0.0.1:1")
	_, port, _ := net.SplitHostPort(p.Addr())
	if n, _ := strconv.Atoi(port); !freeport.Given(n) {
		t.Errorf("the proxy listens on %s, not a port from freeport; want one outside the ephemeral range", p.Addr())
	}
	p.Cut()
	p.Restore(t) // fails the test if it cannot listen there again
}

// TestCutAfterLetsNoByteOfTheAnswerThrough: CutAfter promises that the
// request is in the server's hands and that no byte of its answer reaches
// the client. The proxy wrote the chunk to the server first and closed the
// client's side after: a server that answered at once (an echo here; MySQL
// committing, in TestAnAppendWhoseCommitsAnswerIsLostIsReportedAsItEnded)
// could get its answer to the client in between, and the client saw its
// request succeed. Many rounds, since it is a race.
func TestCutAfterLetsNoByteOfTheAnswerThrough(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	answered := 0
	for range 300 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		cut := p.CutAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("COMMIT")) })
		if _, err := c.Write([]byte("COMMIT")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a deadline on a live connection
		if n, _ := c.Read(make([]byte, 16)); n > 0 {
			answered++
		}
		<-cut
		c.Close()
	}
	if answered > 0 {
		t.Errorf("the client read the server's answer in %d cuts of 300; expected none", answered)
	}
}

// TestStallHoldsEveryByteUntilResume: a stalled proxy keeps its
// connections open and passes nothing either way, on a connection open
// before the stall and on one made during it, and Resume passes on what it
// held: a server that stops answering while TCP stays up (SIGSTOP, a
// network path that drops everything), for the stores' tests.
func TestStallHoldsEveryByteUntilResume(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	before := dialed(t, p.Addr())
	p.Stall()
	if !p.Stalled() {
		t.Fatal("Stalled() is false after Stall")
	}
	during, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial a stalled proxy: %v; want the connection taken, as the kernel takes one for a stopped server", err)
	}
	defer during.Close()
	answers := make(chan string, 2)
	for _, c := range []net.Conn{before, during} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatalf("write to a stalled proxy: %v", err)
		}
		go func() {
			buf := make([]byte, 4)
			_, err := io.ReadFull(c, buf)
			answers <- string(buf) + errString(err)
		}()
	}
	time.Sleep(200 * time.Millisecond) // a chance for an answer to come through, which it must not
	select {
	case a := <-answers:
		t.Fatalf("an answer came through a stalled proxy: %q", a)
	default:
	}
	p.Resume()
	if p.Stalled() {
		t.Fatal("Stalled() is true after Resume")
	}
	for range 2 {
		if a := <-answers; a != "ping" {
			t.Errorf("after Resume: read %q; want the echo of what was held, ping", a)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// TestAnswerInsteadAnswersMatchingRequestsItselfUntilDisarmed: a request
// AnswerInstead matches never reaches the server (an echo here, which
// would send it back), and the client reads the answer given in its place;
// other requests pass on the same connection, and once disarmed (sent nil)
// the matching ones pass too. A proxy's query rule refusing a statement,
// for TestAStartWhoseServerWillNotSayWhichSessionMigratesStillMigrates.
func TestAnswerInsteadAnswersMatchingRequestsItselfUntilDisarmed(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	c := dialed(t, p.Addr())
	ask := func(request string) string {
		t.Helper()
		if _, err := c.Write([]byte(request)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a deadline on a live connection
		b := make([]byte, 64)
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("%q: %v", request, err)
		}
		return string(b[:n])
	}
	p.AnswerInstead(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("SHOW")) }, []byte("refused"))
	for request, want := range map[string]string{"SHOW VARIABLES": "refused", "SELECT 1": "SELECT 1"} {
		if got := ask(request); got != want {
			t.Errorf("%q with AnswerInstead armed for SHOW: answered %q, want %q", request, got, want)
		}
	}
	p.AnswerInstead(nil, nil)
	if got := ask("SHOW VARIABLES"); got != "SHOW VARIABLES" {
		t.Errorf("SHOW VARIABLES with AnswerInstead disarmed: answered %q, want the server's echo", got)
	}
}

// TestHollowClosesEveryConnectionBeforeAByteUntilFill: a hollow proxy
// takes every connection, open or new, and closes it before a byte; Fill
// forwards new ones again.
func TestHollowClosesEveryConnectionBeforeAByteUntilFill(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	open := dialed(t, p.Addr())
	p.Hollow()
	for _, c := range []net.Conn{open, dialed(t, p.Addr())} {
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hang guard
		c.Write([]byte("ping"))                         //nolint:errcheck // it may be closed already
		if n, err := c.Read(make([]byte, 4)); n != 0 || err == nil {
			t.Fatalf("a connection through a hollow proxy read %d bytes, %v; want none, and the connection closed", n, err)
		}
	}
	p.Fill()
	c := dialed(t, p.Addr())
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hang guard
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("a connection after Fill: read %q, %v; want the echo", buf, err)
	}
}

// echoServer is the address of a server that sends back every byte it
// reads, on every connection, until the end of the test: a stand-in for a
// database whose answers the proxy can hold, cut or replace.
func echoServer(t *testing.T) string {
	t.Helper()
	echo := freeport.Listen(t)
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() //nolint:errcheck // the proxy closes it
		}
	}()
	return echo.Addr().String()
}

// dialed is a connection to addr, closed at the end of the test.
func dialed(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCutAfterArmedAgainBeforeTheLastCutSignalledKeepsEachSignalItsOwn: a
// test that arms CutAfter again as soon as its client finds its connection
// cut (the client's side is closed first, before the proxy says it cut)
// re-armed the proxy between its cut and its signal: the proxy then closed
// the new arm's channel for the old cut, unlocked (a data race), and
// closed it a second time at the new arm's cut, "close of closed channel".
// Each cut now closes the channel of the arm it claimed, and the new arm's
// stays open until a chunk of its own is cut. Many rounds, since it is a
// race; run with -race.
func TestCutAfterArmedAgainBeforeTheLastCutSignalledKeepsEachSignalItsOwn(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	match := func(chunk []byte) bool { return bytes.Contains(chunk, []byte("CUT")) }
	cut := p.CutAfter(match)
	for i := range 200 {
		c := dialed(t, p.Addr())
		if _, err := c.Write([]byte("CUT")); err != nil {
			t.Fatal(err)
		}
		// The read ends once the proxy closed the client's side: the cut
		// is claimed, its signal may not have gone yet.
		c.Read(make([]byte, 16)) //nolint:errcheck // its end is what is waited for
		c.Close()
		next := p.CutAfter(match)
		select {
		case <-cut:
		case <-next:
			t.Fatalf("round %d: the arm made after a cut was signalled for it; want the cut's own arm signalled, and the new one open until its own cut", i)
		}
		cut = next
	}
}

// TestCutAnswerAfterLetsTheAnswersFirstBytesThroughThenCuts: a read whose
// connection is lost once some of its answer came (a result's header and
// some rows) is what CutAnswerAfter makes: the request goes whole, n bytes
// of the answer reach the client, then its connection ends; other
// requests, on it before and on other connections, pass whole.
func TestCutAnswerAfterLetsTheAnswersFirstBytesThroughThenCuts(t *testing.T) {
	t.Parallel()
	p := Start(t, echoServer(t))
	c := dialed(t, p.Addr())
	other := dialed(t, p.Addr())
	cut := p.CutAnswerAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("SELECT")) }, 4)
	echo := func(c net.Conn, msg string) string {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(io.LimitReader(c, int64(len(msg))))
		return string(got)
	}
	if got := echo(c, "ping"); got != "ping" {
		t.Fatalf("a request before the one matched: %q; want it answered whole", got)
	}
	if _, err := c.Write([]byte("SELECT rows")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	<-cut
	if string(got) != "SELE" {
		t.Errorf("the matched request's answer: %q (%v); want its first 4 bytes, then the connection's end", got, err)
	}
	if got := echo(other, "SELECT more"); got != "SELECT more" {
		t.Errorf("a request on another connection once the cut was taken: %q; want it answered whole", got)
	}
}
