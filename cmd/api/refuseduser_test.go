package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAUserRefusedAtStartUpIsRetriedUntilTheStartupTimeout: a start whose
// session was refused (1045: a password rotated in the secret store a
// moment after the pod read it) exited at once, where a database out of
// reach is waited for: under an orchestrator, a crash loop. Start-up now
// retries a refusal with back-off up to TRIBUTARY_STARTUP_TIMEOUT, logs it
// once naming the user and host, never the password, and then fails
// saying so; a password mended meanwhile lets the start go on.
func TestAUserRefusedAtStartUpIsRetriedUntilTheStartupTimeout(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "rotated")
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'old-pw'", "GRANT ALL ON rotated.* TO 'app'@'127.0.0.1'")
	cfg := config.Defaults()
	cfg.MySQLDSN = strings.Replace(root, "root@", "app:new-pw@", 1)
	refusals := func(logs string) int { return strings.Count(logs, "refuses the DSN's user") }

	// The password never mended: the start fails at the start-up timeout,
	// not at once, and says why.
	var logs testlog.Buffer
	cfg.StartupTimeout = 3 * time.Second
	parent, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net
	defer cancel()
	store, err := openMySQL(parent, cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), false)
	if err == nil {
		store.Close()
		t.Fatal("openMySQL with a password the database refuses: it opened")
	}
	if parent.Err() != nil {
		t.Fatalf("openMySQL with a refused password ended only with its caller's context, not at the start-up timeout: %v", err)
	}
	for _, want := range []string{"refused the DSN's user", "within 3s", config.Var("StartupTimeout"), "'app'@", "Access denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL with a refused password: %q; want it to say %q", err, want)
		}
	}
	if n := refusals(logs.String()); n != 1 {
		t.Errorf("openMySQL with a refused password logged the refusal %d times (the log: %q); want it once, however many tries", n, logs.String())
	}
	if !strings.Contains(logs.String(), "'app'@'127.0.0.1'") || !strings.Contains(logs.String(), "at 127.0.0.1:") {
		t.Errorf("the refusal's log line does not name the user, this host and the server's address: %q", logs.String())
	}
	if strings.Contains(err.Error()+logs.String(), "new-pw") || strings.Contains(err.Error()+logs.String(), "old-pw") {
		t.Errorf("a password is in openMySQL's error %q or its log %q", err, logs.String())
	}

	// The password mended (the secret's new one set on the server) while
	// start-up retries: the start goes on.
	var logs2 testlog.Buffer
	cfg.StartupTimeout = 2 * time.Minute
	type opened struct {
		err error
	}
	done := make(chan opened, 1)
	go func() {
		store, err := openMySQL(parent, cfg, slog.New(slog.NewTextHandler(&logs2, nil)), metrics.New("test"), false)
		if err == nil {
			store.Close()
		}
		done <- opened{err}
	}()
	for refusals(logs2.String()) == 0 {
		select {
		case o := <-done:
			t.Fatalf("openMySQL with a refused password ended (%v) before the password was mended; want it to retry", o.err)
		case <-parent.Done():
			t.Fatal("openMySQL logged no refusal within 2 minutes")
		case <-time.After(50 * time.Millisecond):
		}
	}
	server.Exec(t, "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'new-pw'")
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("openMySQL after the password was mended: %v; want the start to go on", o.err)
		}
	case <-parent.Done():
		t.Fatal("openMySQL did not end within 2 minutes of the password being mended")
	}
	if !strings.Contains(logs2.String(), "store ready") {
		t.Errorf("openMySQL after the password was mended logged no \"store ready\": %q", logs2.String())
	}
}
