package sqlitestore_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// holdLockDir, in the environment of this test binary run as a child,
// names the data directory whose write lock the child holds.
const holdLockDir = "TRIBUTARY_TEST_HOLD_WRITE_LOCK"

// TestAStartRefusedForTheWriteLockLeavesTheOtherProgramsWALSoTheNextIsRefusedToo:
// another program holds the database's write lock (an sqlite3 shell's
// BEGIN IMMEDIATE), so it has the WAL and the -shm open. A start found that
// WAL, kept a copy of it, and, refused for the lock, put the copy in the
// WAL's place and removed the -shm: the next start made a -shm of its own,
// in which the other program's lock was not, took the write lock at once
// and served (listening, /readyz 200) while its appends hung behind the
// other program's, whose commits went into a WAL no longer at its path.
// Every start while the lock is held must be refused, and the start once
// it is let go must serve.
func TestAStartRefusedForTheWriteLockLeavesTheOtherProgramsWALSoTheNextIsRefusedToo(t *testing.T) {
	if dir := os.Getenv(holdLockDir); dir != "" {
		holdWriteLockUntilStdinCloses(t, dir)
		return
	}
	t.Parallel()
	dir := storeWithEvents(t, 1)
	release := holdWriteLockInAnotherProcess(t, dir)
	for i := 1; i <= 2; i++ {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("start %d while another program held the write lock: served; want it refused", i)
		}
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "write lock") {
			t.Fatalf("start %d while another program held the write lock: %v; want ErrUnavailable saying the write lock was not free", i, err)
		}
	}
	release()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("a start once the other program let the write lock go: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if head, err := s.Head(t.Context()); err != nil || head != 1 {
		t.Errorf("the start once the lock was free: head %d (%v); want 1", head, err)
	}
}

// holdWriteLockInAnotherProcess runs this test binary as another program
// that takes the write lock of dir's database (BEGIN IMMEDIATE) and holds
// it until release or the test's end: within one process SQLite shares its
// locks between connections of one file, whatever becomes of its -shm.
func holdWriteLockInAnotherProcess(t *testing.T, dir string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdLockDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "held\n" {
		stdin.Close()
		cmd.Wait() //nolint:errcheck // the error below says what went wrong
		t.Fatalf("the other program taking the write lock said %q (%v); want \"held\"", line, err)
	}
	release = func() {
		stdin.Close()
		go io.Copy(io.Discard, stdout) //nolint:errcheck // the test's own output, discarded
		cmd.Wait()                     //nolint:errcheck // it exits once its stdin is closed
	}
	t.Cleanup(release)
	return release
}

// holdWriteLockUntilStdinCloses is the other program: it takes the write
// lock of dir's database, says "held" on stdout, and lets it go as its
// stdin closes.
func holdWriteLockUntilStdinCloses(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	os.Stdout.WriteString("held\n")                 //nolint:errcheck // the parent fails without it
	io.Copy(io.Discard, os.Stdin)                   //nolint:errcheck // until the parent closes it
	c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // the lock goes with the process anyway
}
