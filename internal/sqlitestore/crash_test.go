package sqlitestore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// crashImage copies the database file, its WAL and the lock file of the
// open store s into a new directory, as a crash (kill -9, a power cut)
// would leave them: nothing folded into the database file, the lock file
// as the running store had it. It returns the directory.
func crashImage(t *testing.T, s *sqlitestore.Store) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{sqlitestore.FileName, sqlitestore.FileName + "-wal", "tributary.lock"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(s.Path()), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// removeWAL deletes the WAL and shared-memory files beside the database in
// dir, as an operator "clearing the locks" after a crash would.
func removeWAL(t *testing.T, dir string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dir, sqlitestore.FileName+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// TestAWALRemovedAfterACrashIsRefusedNotStartedWithoutItsCommits: after a
// crash, the commits since the last checkpoint are only in
// tributary.db-wal. With it removed while the server was stopped (rm
// tributary.db-wal tributary.db-shm, "to clear the locks"), the next start
// opened the database file without them: acknowledged appends were gone,
// with no error, and their positions were handed out again. The start
// must be refused, and the same files with the WAL still there must start
// with every commit.
func TestAWALRemovedAfterACrashIsRefusedNotStartedWithoutItsCommits(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 2) // folded into the database file by a clean stop
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}, {Type: "Happened", Data: []byte(`{}`)}, {Type: "Happened", Data: []byte(`{}`)}}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
		t.Fatal(err)
	}
	whole, withoutWAL := crashImage(t, s), crashImage(t, s)
	removeWAL(t, withoutWAL)

	if restarted, err := sqlitestore.Open(t.Context(), withoutWAL, sqlitestore.Options{}); err == nil {
		head, herr := restarted.Head(t.Context())
		restarted.Close()
		t.Errorf("Open after a crash whose WAL was then removed: succeeded with the log's head at %d (%v), the 3 acknowledged events past 2 gone; expected it refused", head, herr)
	} else if !strings.Contains(err.Error(), "-wal") || !strings.Contains(err.Error(), "at position 2") || !strings.Contains(err.Error(), "up to 5") {
		t.Errorf("Open after a crash whose WAL was then removed: expected an error naming the WAL, the head of 2 found and the head of 5 the last run reached, got %v", err)
	}

	restarted, err := sqlitestore.Open(t.Context(), whole, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a crash, its WAL in place: %v", err)
	}
	defer restarted.Close()
	if head, err := restarted.Head(t.Context()); err != nil || head != 5 {
		t.Errorf("after a crash, its WAL in place, the head is %d (%v); expected 5", head, err)
	}

	// A second crash before the restarted store's first commit: its WAL
	// still holds the first run's commits.
	again := crashImage(t, restarted)
	removeWAL(t, again)
	if s, err := sqlitestore.Open(t.Context(), again, sqlitestore.Options{}); err == nil {
		head, herr := s.Head(t.Context())
		s.Close()
		t.Errorf("Open after a second crash, before any commit, whose WAL was then removed: succeeded with the log's head at %d (%v); expected it refused", head, herr)
	} else if !strings.Contains(err.Error(), "up to 5") {
		t.Errorf("Open after a second crash whose WAL was then removed: expected an error naming the head of 5, got %v", err)
	}
}

// TestAHardLinkMadeWhileTheStoreRunsStopsAppendsUntilItIsGone: a hard link
// to the database file (cp -al for a "backup") was refused only at the
// next start, perhaps after a crash, with the commits in the WAL beside
// one name not seen through the other. Appends and the readiness probe
// must refuse at once, saying so, and serve again once the link is gone.
func TestAHardLinkMadeWhileTheStoreRunsStopsAppendsUntilItIsGone(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 0)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	one := func() error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
		return err
	}
	if err := one(); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "backup.db")
	if err := os.Link(s.Path(), link); err != nil {
		t.Fatal(err)
	}
	if err := one(); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "hard link") {
		t.Errorf("append with a hard link to the database file: err = %v, expected ErrUnavailable saying a hard link was made", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("ping with a hard link to the database file: err = %v, expected ErrUnavailable", err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := one(); err != nil {
		t.Errorf("append once the hard link is gone: %v", err)
	}
	if head, err := s.Head(t.Context()); err != nil || head != 2 {
		t.Errorf("the head is %d (%v) after an append, a refused one and another; expected 2", head, err)
	}
}

// TestARefusedStartAfterALostWALIsRefusedAgainOnTheNext: the start that
// refuses a log shorter than the head the crashed run recorded had already
// replaced the lock file's record with its own pid, so the next start (a
// supervisor restarting the service, an operator trying again) found no
// record and served the shorter log, handing its lost positions out again.
// Every start must be refused until the WAL is back or the lock file is
// removed on purpose, as the error says.
func TestARefusedStartAfterALostWALIsRefusedAgainOnTheNext(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 2)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}, {Type: "Happened", Data: []byte(`{}`)}}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
		t.Fatal(err)
	}
	lost := crashImage(t, s)
	removeWAL(t, lost)
	for try := 1; try <= 3; try++ {
		if restarted, err := sqlitestore.Open(t.Context(), lost, sqlitestore.Options{}); err == nil {
			head, herr := restarted.Head(t.Context())
			restarted.Close()
			t.Fatalf("start %d after a crash whose WAL was then removed: succeeded with the log's head at %d (%v), the 2 acknowledged events past 2 gone; expected it refused", try, head, herr)
		} else if !strings.Contains(err.Error(), "up to 4") {
			t.Fatalf("start %d after a crash whose WAL was then removed: expected an error naming the head of 4 the crashed run reached, got %v", try, err)
		}
	}
	// Removing the lock file is the way, given in the error, to start on
	// the shorter log on purpose.
	if err := os.Remove(filepath.Join(lost, "tributary.lock")); err != nil {
		t.Fatal(err)
	}
	restarted, err := sqlitestore.Open(t.Context(), lost, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("start with the lock file removed, as the refusal says: %v", err)
	}
	defer restarted.Close()
	if head, err := restarted.Head(t.Context()); err != nil || head != 2 {
		t.Errorf("after starting on the shorter log on purpose, the head is %d (%v); expected 2", head, err)
	}
}

// TestEveryStateOfTheLockFileDuringAStartKeepsTheCrashedRunsHead: a start
// after a crash replaced the lock file's content with its pid (truncating
// it, then writing) before it wrote the crashed run's head back: a start
// killed in between (a supervisor's SIGKILL, the OOM killer, a power cut
// before the unsynced writes reached the disk) left a lock file with no
// record, and the next start served a log that had lost its WAL. Each
// state the lock file passes through during a start must keep the head,
// so that a start on it is refused as the crashed run's own lock file is.
//
// Not parallel: the hook it sets runs for every store of the package.
func TestEveryStateOfTheLockFileDuringAStartKeepsTheCrashedRunsHead(t *testing.T) {
	dir := storeWithEvents(t, 2)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	events := []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}, {Type: "Happened", Data: []byte(`{}`)}}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
		t.Fatal(err)
	}
	lost := crashImage(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	removeWAL(t, lost)
	lockPath := filepath.Join(lost, "tributary.lock")
	var states []string
	sqlitestore.OnLockFileChange(t, func(path string) {
		if path != lockPath {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read the lock file as a start changed it: %v", err)
		}
		states = append(states, string(b))
	})
	if restarted, err := sqlitestore.Open(t.Context(), lost, sqlitestore.Options{}); err == nil {
		restarted.Close()
		t.Fatal("a start after a crash whose WAL was then removed succeeded; expected it refused")
	}
	sqlitestore.OnLockFileChange(t, func(string) {})
	if len(states) == 0 {
		t.Fatal("the start changed the lock file in no step the hook saw")
	}
	database, err := os.ReadFile(filepath.Join(lost, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for i, state := range states {
		// The files as a start killed at this step would leave them.
		killed := t.TempDir()
		if err := errors.Join(os.WriteFile(filepath.Join(killed, sqlitestore.FileName), database, 0o644),
			os.WriteFile(filepath.Join(killed, "tributary.lock"), []byte(state), 0o640)); err != nil {
			t.Fatal(err)
		}
		if next, err := sqlitestore.Open(t.Context(), killed, sqlitestore.Options{}); err == nil {
			head, herr := next.Head(t.Context())
			next.Close()
			t.Errorf("a start killed at step %d of %d, which left the lock file holding %q, was followed by one that succeeded with the log's head at %d (%v), "+
				"the 2 acknowledged events past 2 gone; expected it refused", i+1, len(states), state, head, herr)
		} else if !strings.Contains(err.Error(), "up to 4") {
			t.Errorf("a start after one killed at step %d (the lock file holding %q): expected an error naming the head of 4 the crashed run reached, got %v", i+1, state, err)
		}
	}
}

// TestARefusedStartLeavesADamagedWALAsItFoundIt: after a crash, a byte of
// the WAL goes bad inside a frame of an early commit. SQLite replays the
// WAL up to that frame only (each frame's checksum covers those before it),
// so the log ends short of the head the crashed run recorded, and the start
// is refused, as it must be. But the refusing start's close folded the
// WAL's good frames into the database file and deleted the WAL, the later
// commits with it, and its message said to put back a WAL it had just
// removed: an operator who could have mended the byte had nothing left to
// mend. The refused start must leave the WAL as it found it, and say it is
// there but damaged. (A black-box tester; api verify opens the same way.)
func TestARefusedStartLeavesADamagedWALAsItFoundIt(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 0)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 12 {
		data := []byte(fmt.Sprintf(`{"mark":"WALMARK%02d"}`, i+1))
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := crashImage(t, s)
	wal := filepath.Join(crashed, sqlitestore.FileName+"-wal")
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	damageThirdCommitAndExpectRefused(t, crashed, b)
}

// damageThirdCommitAndExpectRefused damages the frame of the third commit
// in dir's WAL, whose bytes are b (marked WALMARK03), and checks that a
// start is refused, saying the WAL is damaged, and leaves the WAL as it
// found it.
func damageThirdCommitAndExpectRefused(t *testing.T, dir string, b []byte) {
	t.Helper()
	wal := filepath.Join(dir, sqlitestore.FileName+"-wal")
	at := bytes.Index(b, []byte("WALMARK03"))
	if at < 0 {
		t.Fatal("the third commit's event is not in the WAL")
	}
	b[at+7] ^= 0x01 // '0' → '1': the frame's checksum no longer matches
	if err := os.WriteFile(wal, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if restarted, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{}); err == nil {
		head, _ := restarted.Head(t.Context())
		restarted.Close()
		t.Fatalf("Open after a crash whose WAL went bad at the third commit: started at head %d; expected it refused", head)
	} else if !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Open refused a WAL that is there but damaged: %v; expected the error to say the WAL is there and damaged", err)
	}
	after, err := os.ReadFile(wal)
	if err != nil {
		t.Fatalf("the WAL after a refused start: %v; expected it left as it was", err)
	}
	if !bytes.Equal(after, b) {
		t.Errorf("the WAL after a refused start: %d bytes, changed; expected the %d bytes it held", len(after), len(b))
	}
}
