package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAUserRefusedAtStartUpWithATimeoutShorterThanABackOffSaysItGivesUp:
// with TRIBUTARY_STARTUP_TIMEOUT shorter than the first back-off (250 ms),
// the WARN for a refused user said "retrying until the start-up timeout",
// though no retry would come: the start gave up at the timeout, and an
// operator reading the log waited for a retry. The line now says it gives
// up at the start-up timeout.
func TestAUserRefusedAtStartUpWithATimeoutShorterThanABackOffSaysItGivesUp(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	// A user the shared server does not know: each session refused (1045).
	cfg.MySQLDSN = strings.Replace(mysqltest.NewDatabase(t), "root@", "feedmetric_nobody:not-a-pw@", 1)
	cfg.StartupTimeout = 240 * time.Millisecond                                // shorter than the first back-off
	parent, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net
	defer cancel()
	// The refusal is seen only where the one try ends within the timeout:
	// on a loaded machine it may not, and the start is made again.
	var logs testlog.Buffer
	for try := 1; ; try++ {
		logs = testlog.Buffer{}
		store, err := openMySQL(parent, cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), false)
		if err == nil {
			store.Close()
			t.Fatal("openMySQL as a user the database does not know: it opened")
		}
		if strings.Contains(err.Error(), "refused the DSN's user") {
			break
		}
		if try == 20 {
			t.Fatalf("openMySQL as a user the database does not know, %d times: %q; want a refusal (each try slower than %s?)", try, err, cfg.StartupTimeout)
		}
	}
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "refuses the DSN's user") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("openMySQL as a refused user logged no refusal: %q", logs.String())
	}
	if strings.Contains(line, "retrying") || !strings.Contains(line, "giving up at the start-up timeout") {
		t.Errorf("the refusal's WARN with a start-up timeout (%s) shorter than a back-off: %q; want it to say it is giving up at the start-up timeout, not retrying",
			cfg.StartupTimeout, line)
	}
}

// TestADatabaseOutOfReachAtTheStartupTimeoutSaysItGivesUp: the sibling of
// the refused user's WARN. Each failed try of a database out of reach
// logged "database not reachable yet; retrying" with its retry_in, the
// last one too, after which the start-up timeout came before the retry.
// The last line now says it gives up at the start-up timeout; the ones
// before it still say retrying.
func TestADatabaseOutOfReachAtTheStartupTimeoutSaysItGivesUp(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there: each connection refused
	cfg := config.Defaults()
	cfg.MySQLDSN = "app:secret-pw@tcp(" + addr + ")/tributary"
	cfg.StartupTimeout = 3 * time.Second                                       // tries at 0, 0.25, 0.75 and 1.75 s: the fourth's back-off (2 s) past it, with 1.25 s to spare on a loaded machine
	parent, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net
	defer cancel()
	var logs testlog.Buffer
	if _, err := openMySQL(parent, cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), false); err == nil {
		t.Fatal("openMySQL on an address nothing listens on: no error")
	}
	var lines []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "database not reachable yet") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("openMySQL on an address nothing listens on logged no failed try: %q", logs.String())
	}
	last := lines[len(lines)-1]
	if strings.Contains(last, "retrying") || !strings.Contains(last, "giving up at the start-up timeout") {
		t.Errorf("the last failed try's WARN before the start-up timeout (%s): %q; want it to say it is giving up at the start-up timeout, not retrying",
			cfg.StartupTimeout, last)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, "retrying") {
			t.Errorf("a failed try's WARN with a retry to come: %q; want it to say retrying", l)
		}
	}
}
