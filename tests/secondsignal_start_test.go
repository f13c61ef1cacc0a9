package tests

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestASecondSignalStopsAStartAtOnce: a start stopped by a signal while
// its migration waited on a database that had just stopped answering
// (SIGSTOP, a hung host) waited for the database to end the migration's
// statement (up to 5 s) and to release the migration lock (2 s more), and a
// second signal (Ctrl-C again, an orchestrator signalling twice) changed
// nothing, where during a drain it cuts the stop short. A second signal
// during the start now stops the process at once, saying so, with a
// non-zero exit status: `api` and `api migrate` alike. MySQL only: the
// embedded store's start waits on no server.
func TestASecondSignalStopsAStartAtOnce(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"serve", "migrate"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			direct := mysqltest.OpenDirect(t, dsn, proxy)
			// The schema of the release before the last migration, whose
			// statement then waits for a metadata lock held here.
			mysqltest.SchemaBeforeLastMigration(t, direct)
			release := mysqltest.HoldMetadataLock(t, direct, "events")
			defer release()
			c := command(ctx, apiBinary, []string{"TRIBUTARY_MYSQL_DSN=" + dsn, "TRIBUTARY_STARTUP_TIMEOUT=10m",
				"TRIBUTARY_ADDR=127.0.0.1:0"}, cmd)
			out := newProcessOutput()
			c.Stdout, c.Stderr = out.stdoutWriter(), out.stderrWriter()
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { c.Wait(); close(exited) }() //nolint:errcheck // the status is read below
			defer func() {
				c.Process.Kill() //nolint:errcheck // it may have exited
				<-exited
			}()
			// The migration's statement waits on the server.
			for waiting := false; !waiting; {
				select {
				case <-exited:
					stdout, stderr := out.snapshot()
					t.Fatalf("api %s exited before its migration's statement was seen on the server.\nStdout:\n%s\nStderr:\n%s", cmd, stdout, stderr)
				case <-time.After(20 * time.Millisecond):
				}
				if err := direct.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'CREATE INDEX events_stream_type_event_type_position%')").Scan(&waiting); err != nil {
					t.Fatal(err)
				}
			}
			proxy.Stall()
			defer proxy.Resume()
			// Two signals of two kinds: two of one kind sent at once may
			// reach the process as one.
			c.Process.Signal(syscall.SIGTERM) //nolint:errcheck
			c.Process.Signal(syscall.SIGINT)  //nolint:errcheck
			select {
			case <-exited:
			case <-time.After(2 * time.Minute): // against a hang only
				t.Fatalf("api %s has not exited 2 minutes after two signals", cmd)
			}
			stdout, stderr := out.snapshot()
			if code := c.ProcessState.ExitCode(); code != 1 || !bytes.Contains(stdout, []byte("a second signal during start-up")) ||
				!bytes.Contains(stderr, []byte("stopped at once by a second signal")) {
				t.Errorf("api %s given two signals while its migration waited on a stalled database: want exit status 1 at once, "+
					"a log line and an error saying a second signal stopped it; got %d.\nStdout:\n%s\nStderr:\n%s", cmd, code, stdout, stderr)
			}
		})
	}
}
