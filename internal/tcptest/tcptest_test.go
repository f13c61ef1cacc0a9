package tcptest_test

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestSilentAcceptsAndNeverAnswers: a connection to Silent is accepted and
// gets no byte however long it waits (here a second: the read must time
// out, not end), and is closed at the test's end.
func TestSilentAcceptsAndNeverAnswers(t *testing.T) {
	t.Parallel()
	var c net.Conn
	t.Run("silent", func(t *testing.T) {
		addr := tcptest.Silent(t)
		var err error
		if c, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hello?")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck // a test's client
		if n, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a read from a silent peer: %d bytes, %v; want none, the read timing out", n, err)
		}
	})
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck // bounds a hang
	if n, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a read after the test that made the silent peer ended: %d bytes, %v; want the connection closed", n, err)
	}
}
