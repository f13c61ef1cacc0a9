package mysqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAServerRestartedWithOtherDurabilitySettingsIsNoticedWhileTheStoreRuns:
// the store read innodb_flush_log_at_trx_commit, log_bin and sync_binlog
// once, at Open, and chose there whether answers wait for a fence. The
// server restarted under it (a private mariadbd, killed and started again
// with other options) with the binary log off and
// innodb_flush_log_at_trx_commit=2: the store reconnected with no word and
// acknowledged appends a crash could take back, which a fresh start on the
// same server refuses; restarted with only the binary log off (which start-up
// accepts, with fences), it fenced nothing, and a read answered another
// process's commit that a crash could still take back. Each new session of
// the store now reads the three settings: unsafe ones refuse appends,
// naming the setting, logged once at ERROR; the binary log off turns the
// fences on, and on again turns them off.
func TestAServerRestartedWithOtherDurabilitySettingsIsNoticedWhileTheStoreRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--log-bin=binlog", "--server-id=1", "--sync-binlog=1")
	dsn := server.CreateDatabase(t, "settings")
	var logged testlog.Buffer
	m := metrics.New("test")
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if s.Fences() {
		t.Fatal("the store fences with the binary log on")
	}
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	restart := func(options ...string) {
		t.Helper()
		shutDown(t, server)
		server.Args = append(server.Args, options...) // the last of an option wins
		server.Start(t)
	}

	restart("--skip-log-bin", "--innodb-flush-log-at-trx-commit=2")
	const setting = "innodb_flush_log_at_trx_commit is 2"
	for i := range 3 {
		// The first, on sessions the restart ended, may fail as the
		// driver finds them gone.
		for try := 0; ; try++ {
			_, err := appendOne(ctx, s, stream, eventstore.Any)
			if err == nil {
				t.Fatalf("append %d after the server restarted with innodb_flush_log_at_trx_commit=2: acknowledged; want it refused, naming the setting", i+1)
			}
			if strings.Contains(err.Error(), setting) {
				if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, mysqlstore.ErrNotDurable) {
					t.Errorf("append %d after the server restarted with innodb_flush_log_at_trx_commit=2: %v; want it to wrap ErrUnavailable and ErrNotDurable", i+1, err)
				}
				break
			}
			if try == 3 {
				t.Fatalf("append %d after the server restarted with innodb_flush_log_at_trx_commit=2: %v; want it refused, naming the setting (%q)", i+1, err, setting)
			}
		}
	}
	if n := countLines(logged.String(), "level=ERROR", setting); n != 1 {
		t.Errorf("%d ERROR lines name %q after three refused appends; want 1. The log:\n%s", n, setting, logged.String())
	}

	// Only the binary log off: start-up takes it, with fences.
	restart("--innodb-flush-log-at-trx-commit=1")
	appendAfterRestart(ctx, t, s, stream, "the binary log off and innodb_flush_log_at_trx_commit=1")
	if !s.Fences() {
		t.Error("the server restarted with its binary log off: the store does not fence")
	}
	before := teststore.Statements(t, m, "fence")
	otherCommits(ctx, t, dsn)
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Fatalf("read all: %v", err)
	}
	if after := teststore.Statements(t, m, "fence"); after <= before {
		t.Errorf("a read of another process's commit on the server restarted with its binary log off sent %d fences; want one at least", after-before)
	}
	if n := countLines(logged.String(), "durable", "again"); n != 1 {
		t.Errorf("%d lines say the database makes commits durable again; want 1. The log:\n%s", n, logged.String())
	}

	// The binary log on again: no fence.
	restart("--log-bin=binlog", "--sync-binlog=1")
	appendAfterRestart(ctx, t, s, stream, "the binary log on again")
	if s.Fences() {
		t.Error("the server restarted with its binary log on again: the store still fences")
	}
	before = teststore.Statements(t, m, "fence")
	otherCommits(ctx, t, dsn)
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Fatalf("read all: %v", err)
	}
	if after := teststore.Statements(t, m, "fence"); after != before {
		t.Errorf("a read of another process's commit with the binary log on again sent %d fences; want none", after-before)
	}
}

// shutDown shuts server down as an operator's restart does, cleanly: a
// crash would leave a transaction prepared in InnoDB that a server started
// without its binary log cannot recover.
func shutDown(t *testing.T, server *mysqltest.Server) {
	t.Helper()
	server.Exec(t, "SHUTDOWN")
	pid := filepath.Join(server.Dir, "pid")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(pid); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadbd did not shut down within 2 minutes:\n%s", server.ErrorLog())
		}
	}
	server.Kill() // it has exited: this waits for it
}

// appendAfterRestart appends one event to stream through s, again after
// failures while s finds its sessions gone with the server's restart.
func appendAfterRestart(ctx context.Context, t *testing.T, s *mysqlstore.Store, stream uuid.UUID, server string) {
	t.Helper()
	var err error
	for range 4 {
		if _, err = appendOne(ctx, s, stream, eventstore.Any); err == nil {
			return
		}
	}
	t.Fatalf("append after the server restarted with %s: %v", server, err)
}

// otherCommits appends an event through another store on dsn, as another
// process would: a commit s has yet to make durable before it answers it.
func otherCommits(ctx context.Context, t *testing.T, dsn string) {
	t.Helper()
	other, _ := openCounted(t, dsn)
	if _, err := appendOne(ctx, other, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatalf("another process's append: %v", err)
	}
	other.Close()
}

// countLines is how many lines of log hold every one of words.
func countLines(log string, words ...string) int {
	n := 0
	for line := range strings.Lines(log) {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			n++
		}
	}
	return n
}
