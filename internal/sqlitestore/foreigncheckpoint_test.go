package sqlitestore_test

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAnotherProgramsCheckpointsBesideAppendsAreNeverTakenForACopy: a
// backup tool (Litestream) or an operator's sqlite3 runs checkpoints of its
// own beside the server, which write the database file page by page. The
// writer's look for a copy over the file, run before each group of appends,
// took one under way for a copy (the WAL index's record read before the
// checkpoint recorded its attempt, or the same unfinished attempt at two
// looks): appends were refused as "overwritten", each refusal advising to
// remove tributary.db-wal, which holds acknowledged appends. Under a steady
// load of appends, with another connection checkpointing every 200 ms,
// none may be refused. The load stops by itself after a few seconds; the
// counts decide.
func TestAnotherProgramsCheckpointsBesideAppendsAreNeverTakenForACopy(t *testing.T) {
	s := openNew(t, sqlitestore.Options{})
	// Another program's connection: it checkpoints only when told.
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var checkpoints, copied atomic.Int64
	load := newAppendLoad()
	load.appenders(t, s, 4)
	load.beside(200*time.Millisecond, func() { // the pace of the other program's checkpoints
		var busy, frames, n int64
		if err := db.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &n); err == nil {
			checkpoints.Add(1)
			copied.Add(n)
		}
	})
	// Within the load, the other program's checkpoints run beside many looks.
	load.end(t, 5*time.Second, "appends", "SQLite")
	t.Logf("%d checkpoints beside the appends copied %d frames", checkpoints.Load(), copied.Load())
	if copied.Load() == 0 {
		t.Fatalf("the %d checkpoints beside %d appends copied no frame into the file: the test proves nothing", checkpoints.Load(), load.written.Load())
	}
	stillServes(t, s)
}

// TestAnotherProgramsCheckpointDuringTheWritersLookIsNoCopy: the same with
// no load and no timing: another program's checkpoint runs while the
// writer's look reads the file, after it read the WAL index's record, and
// writes the WAL's pages (log_head's among them) into the file. The look
// compared that file with the record as it was before and refused the
// append as overwritten; it must be written, and so must the next.
func TestAnotherProgramsCheckpointDuringTheWritersLookIsNoCopy(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	appendN(t, s, 3) // frames in the WAL for the checkpoint to copy
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var once sync.Once
	var copied int64
	var ckptErr error
	s.SetWhileLooking(func() {
		once.Do(func() {
			var busy, frames int64
			ckptErr = db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
		})
	})
	err = appendAfter(t, s)
	if ckptErr != nil || copied == 0 {
		t.Fatalf("the checkpoint during the look copied %d frames (%v): the test proves nothing", copied, ckptErr)
	}
	if err != nil {
		t.Errorf("an append whose look ran beside another program's checkpoint: %v; want it written", err)
	}
	if err := appendAfter(t, s); err != nil {
		t.Errorf("the append after it: %v; want it written", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after it: %v; want nil", err)
	}
}

// TestTheOverwriteRefusalSaysToRemoveTheWALOnlyWhereACopyWasPutThere: the
// refusal of a file found overwritten told the operator, whatever happened,
// to remove tributary.db-wal, which holds the appends acknowledged since the
// last checkpoint: where the look was wrong (another program's checkpoint
// taken for a copy), following it lost them. It must say to remove the WAL
// only where a copy was put over the file, and, where nothing was, to
// remove nothing and restart.
func TestTheOverwriteRefusalSaysToRemoveTheWALOnlyWhereACopyWasPutThere(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	appendN(t, s, 1)
	overwriteInPlace(t, backup, s.Path())
	err := appendAfter(t, s)
	if !errors.Is(err, eventstore.ErrOverwritten) {
		t.Fatalf("an append after a copy over the file: %v; want ErrOverwritten", err)
	}
	msg := err.Error()
	ifCopy := strings.Index(msg, "If a copy was put over it")
	removeWAL := strings.Index(msg, "remove "+sqlitestore.FileName+"-wal")
	ifNothing := strings.Index(msg, "If nothing was put over it, remove nothing")
	if ifCopy < 0 || removeWAL < ifCopy || ifNothing < removeWAL || strings.Count(msg, sqlitestore.FileName+"-wal,") != 1 {
		t.Fatalf("the refusal: %q; want removing %s-wal advised only after \"If a copy was put over it\", then \"If nothing was put over it, remove nothing\"",
			msg, sqlitestore.FileName)
	}
	if !strings.Contains(msg[ifNothing:], "acknowledged") || !strings.Contains(msg[ifNothing:], "start it again") {
		t.Errorf("the refusal: %q; want it to say, where nothing was put over the file, that the WAL holds acknowledged appends and to start the server again", msg)
	}
}

// TestACopyOverTheFileAfterAStartThatFoundAWALIsRefused: a start that
// finds a WAL after a crash records all of it in the WAL index as a
// checkpoint attempted and not finished, until one finishes (a thousand
// pages on). While a checkpoint is under way the look cannot judge the
// file's size or header (another program's writes them page by page), but
// that record says none is: a copy put over the file then, whose change
// counter is not behind the file's, must be refused by log_head's page,
// which is neither the file's at the last look nor the WAL's that a
// checkpoint up to the recorded frame would write.
func TestACopyOverTheFileAfterAStartThatFoundAWALIsRefused(t *testing.T) {
	t.Parallel()
	// A copy of another log, whose file SQLite wrote more often: its change
	// counter is ahead of the crashed store's.
	backupDir := storeWithEvents(t, 2)
	b := openMigrated(t, backupDir)
	for range 20 {
		appendEvents(t, b, uuid.New(), 1, 5000)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(backupDir, sqlitestore.FileName)

	crashed, _ := startAfterACrashWithACheckpointUnfinished(t, 1)
	if ahead, file := changeCounterOf(t, backup), changeCounterOf(t, crashed.Path()); ahead < file {
		t.Fatalf("the copy's change counter %d is behind the file's %d: the test proves nothing", ahead, file)
	}
	overwriteInPlace(t, backup, crashed.Path())
	if err := appendAfter(t, crashed); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after a copy over the file, after a start that found a WAL: %v; want ErrOverwritten", err)
	}
	if err := crashed.Ping(t.Context()); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("Ping after a copy over the file, after a start that found a WAL: %v; want ErrOverwritten", err)
	}
}

// changeCounterOf returns the change counter in the header of the database
// file at path.
func changeCounterOf(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [28]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint32(h[24:])
}

// TestACheckpointUnderWayAfterAStartThatFoundAWALIsNoCopy: the other side of
// the last: while the WAL index records the same unfinished checkpoint as at
// the last look, a checkpoint up to its frame (another program's, under way)
// writes log_head's page into the file as the WAL's latest frame of it at or
// before that frame. The file so written must not be taken for a copy.
func TestACheckpointUnderWayAfterAStartThatFoundAWALIsNoCopy(t *testing.T) {
	t.Parallel()
	crashed, attempted := startAfterACrashWithACheckpointUnfinished(t, 3)
	var root int64
	if err := crashed.QueryRow(t.Context(), "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'log_head'", &root); err != nil {
		t.Fatal(err)
	}
	// log_head's page as the checkpoint writes it: its latest frame in the
	// WAL up to the one attempted, read frame by frame.
	wal, err := os.ReadFile(crashed.Path() + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	size := int(binary.BigEndian.Uint32(wal[8:12]))
	var page []byte
	for i := range int(attempted) {
		frame := wal[32+i*(24+size):]
		if int64(binary.BigEndian.Uint32(frame)) == root {
			page = frame[24 : 24+size]
		}
	}
	if page == nil {
		t.Fatalf("no frame of log_head's page %d among the WAL's first %d: the test proves nothing", root, attempted)
	}
	f, err := os.OpenFile(crashed.Path(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(page, (root-1)*int64(size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := appendAfter(t, crashed); err != nil {
		t.Errorf("an append while a checkpoint up to the recorded frame wrote log_head's page: %v; want it written", err)
	}
	if err := crashed.Ping(t.Context()); err != nil {
		t.Errorf("Ping after it: %v; want nil", err)
	}
}

// startAfterACrashWithACheckpointUnfinished starts a store on the crash
// image of one whose last n appends were in its WAL only, appends once (a
// look, and the state the next compares with), and returns it with the
// frames its WAL index records a checkpoint attempted: more than those
// copied, or the test fails, proving nothing.
func startAfterACrashWithACheckpointUnfinished(t *testing.T, n int) (*sqlitestore.Store, uint32) {
	t.Helper()
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	appendN(t, s, n) // in the WAL only
	crashed, err := sqlitestore.Open(t.Context(), crashImage(t, s), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crashed.Close() })
	appendN(t, crashed, 1)
	shm, err := os.ReadFile(crashed.Path() + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	attempted := binary.NativeEndian.Uint32(shm[128:])
	if backfilled := binary.NativeEndian.Uint32(shm[96:]); attempted <= backfilled {
		t.Fatalf("the WAL index after a start that found a WAL records %d frames copied of %d attempted: no checkpoint left unfinished, the test proves nothing",
			backfilled, attempted)
	}
	return crashed, attempted
}

// openNew opens a store with opts in a fresh directory and migrates it, or
// fails the test; it is closed when the test ends.
func openNew(t *testing.T, opts sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// appendLoad is a steady load of appends (and whatever runs beside them)
// until it is ended, counting what was written, what was refused as
// overwritten and what failed otherwise. The load's length is no pass or
// fail: the counts decide.
type appendLoad struct {
	stop                    chan struct{}
	wg                      sync.WaitGroup
	written, refused, other atomic.Int64
	rounds                  atomic.Int64 // of what runs beside the appenders
	firstErr                atomic.Value
}

func newAppendLoad() *appendLoad { return &appendLoad{stop: make(chan struct{})} }

// appenders starts n appenders, each appending two events of 8 KiB to a new
// stream of s, again and again until the load ends.
func (l *appendLoad) appenders(t *testing.T, s *sqlitestore.Store, n int) {
	ctx := t.Context()
	data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
	for range n {
		l.wg.Go(func() {
			for !l.stopped() {
				_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
					Events: []eventstore.NewEvent{{Type: "E", Data: data}, {Type: "E", Data: data}}})
				if err != nil {
					l.failed(err)
					continue
				}
				l.written.Add(1)
			}
		})
	}
}

// beside runs f beside the appenders, after each pause, until the load
// ends, counting its rounds.
func (l *appendLoad) beside(pause time.Duration, f func()) {
	l.wg.Go(func() {
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(pause):
			}
			f()
			l.rounds.Add(1)
		}
	})
}

// failed counts err, an append's or a read's under the load.
func (l *appendLoad) failed(err error) {
	if errors.Is(err, eventstore.ErrOverwritten) {
		l.refused.Add(1)
	} else {
		l.other.Add(1)
	}
	l.firstErr.CompareAndSwap(nil, err.Error())
}

func (l *appendLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// end lets the load run for d, then ends it, waits for it and logs its
// counts; it fails the test if anything under it was refused or failed,
// with only writer (the store, or SQLite) writing the file; what names what
// was under the load ("appends", "appends or reads").
func (l *appendLoad) end(t *testing.T, d time.Duration, what, writer string) {
	t.Helper()
	time.Sleep(d)
	close(l.stop)
	l.wg.Wait()
	t.Logf("%d appends written; %d refused as overwritten, %d other failures", l.written.Load(), l.refused.Load(), l.other.Load())
	if l.refused.Load() > 0 || l.other.Load() > 0 {
		t.Fatalf("%d %s refused as overwritten, %d failed otherwise, with nothing but %s writing the file; want none: the first: %v",
			l.refused.Load(), what, l.other.Load(), writer, l.firstErr.Load())
	}
}

// stillServes fails the test unless s writes an append and answers Ping
// after the load.
func stillServes(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	if err := appendAfter(t, s); err != nil {
		t.Errorf("an append after the load: %v; want it written", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after the load: %v; want nil", err)
	}
}
