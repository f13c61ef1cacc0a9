package mysqlstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestTheDriverDroppingADeadIdleSessionIsNoWarning: the driver logs each
// pooled session it finds dead before a request uses it ("closing bad idle
// connection"), then takes another: the request is served. Behind a proxy
// that cuts idle sessions, or with a short wait_timeout, that was a WARN
// line every few seconds with every request succeeding (the operator
// tester: 20 in 50 s), and more at each stop. It is a DEBUG line; the
// driver's other lines (a packet cut short mid-answer) stay warnings.
func TestTheDriverDroppingADeadIdleSessionIsNoWarning(t *testing.T) {
	var out bytes.Buffer
	l := driverLogger{slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Print("connection.go:803 closing bad idle connection: EOF")
	l.Print("packets.go:58 unexpected EOF")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"DEBUG"`) || !strings.Contains(lines[1], `"level":"WARN"`) {
		t.Fatalf("the driver's lines logged as:\n%s\nwant the dead idle session at DEBUG, the cut packet at WARN", out.String())
	}
}
