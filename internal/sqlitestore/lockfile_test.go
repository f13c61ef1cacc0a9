package sqlitestore

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// diskFile is a file as a power cut sees it: what was synced is on disk;
// of the writes and truncations made since, any may have reached it, in
// any order (the kernel writes back a file's data and its length apart).
type diskFile struct {
	synced  []byte
	pending []func([]byte) []byte // since the last sync, in the order made
	crashes []string              // every content a power cut could leave
}

func (d *diskFile) Name() string { return "tributary.lock" }

func (d *diskFile) WriteAt(b []byte, off int64) (int, error) {
	b = append([]byte(nil), b...)
	d.pending = append(d.pending, func(c []byte) []byte {
		if end := int(off) + len(b); end > len(c) {
			c = append(c, make([]byte, end-len(c))...)
		}
		copy(c[off:], b)
		return c
	})
	d.cut()
	return len(b), nil
}

func (d *diskFile) Truncate(n int64) error {
	d.pending = append(d.pending, func(c []byte) []byte {
		if int(n) < len(c) {
			return c[:n]
		}
		return append(c, make([]byte, int(n)-len(c))...)
	})
	d.cut()
	return nil
}

func (d *diskFile) Sync() error {
	d.synced = d.apply(1<<len(d.pending) - 1)
	d.pending = nil
	d.cut()
	return nil
}

// apply returns the synced content with the pending changes in mask made.
func (d *diskFile) apply(mask int) []byte {
	c := append([]byte(nil), d.synced...)
	for i, change := range d.pending {
		if mask&(1<<i) != 0 {
			c = change(c)
		}
	}
	return c
}

// cut records every content a power cut now would leave.
func (d *diskFile) cut() {
	for mask := range 1 << len(d.pending) {
		d.crashes = append(d.crashes, string(d.apply(mask)))
	}
}

// TestAPowerCutWhileTheLockFileIsRewrittenLeavesTheOldRecordOrTheNew: the
// lock file's record is written over the old one, then what is left of the
// old one is cut off, then both synced. A power cut before the sync may
// keep the cut and lose the write (the length and the data reach the disk
// apart): a start's record of a crashed run's head, written over one with
// a longer pid, then left the old record cut short, its head line read as a
// smaller head ("head 0000000000000000" is 0), and a start with the WAL
// lost since was served the shorter log. Whatever a power cut keeps, the
// record must read as the old one or the new one.
func TestAPowerCutWhileTheLockFileIsRewrittenLeavesTheOldRecordOrTheNew(t *testing.T) {
	t.Parallel()
	head := headLine(12345678)
	stopped := stoppedPrefix + "dev 2049 inode 1234567 size 4096000 mtime 1764970000000000000\n"
	cases := []struct{ old, new string }{
		{"1234567\n" + head, "12\n" + head},      // a start after a crash, its pid shorter
		{"12\n" + head, "1234567\n" + head},      // the same, its pid longer
		{stopped, "12\n"},                        // a start after a clean stop
		{"1234567\n" + head, stopped},            // a clean stop
		{"1234567\n", "12\n"},                    // a start after a crash before its first record
		{"1234567\n" + head + "junk\n", stopped}, // a clean stop over a longer file
	}
	for _, c := range cases {
		d := &diskFile{synced: []byte(c.old)}
		if err := rewriteLockFile(d, c.new); err != nil {
			t.Fatal(err)
		}
		if got := string(d.synced); got != c.new {
			t.Errorf("rewriting %q with %q synced %q; expected the new record", c.old, c.new, got)
		}
		oldHead, oldOK := headRecorded(c.old)
		newHead, newOK := headRecorded(c.new)
		for _, crash := range d.crashes {
			h, ok := headRecorded(crash)
			if (h != oldHead || ok != oldOK) && (h != newHead || ok != newOK) {
				t.Errorf("a power cut while %q was written over %q can leave %q, which reads as the head %s; expected the old record's (%s) or the new one's (%s)",
					c.new, c.old, crash, show(h, ok), show(oldHead, oldOK), show(newHead, newOK))
			}
			if crash == "" {
				t.Errorf("a power cut while %q was written over %q can leave the lock file empty", c.new, c.old)
			}
		}
	}
}

// show says what headRecorded returned.
func show(head int64, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprint(head)
}

// fullDisk is a lock file on a file system with no space left: every write
// fails as the kernel fails it.
type fullDisk struct{ name string }

func (d fullDisk) Name() string { return d.name }
func (d fullDisk) WriteAt([]byte, int64) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: d.name, Err: syscall.ENOSPC}
}
func (d fullDisk) Truncate(int64) error { return nil }
func (d fullDisk) Sync() error          { return nil }

// TestAStartOnAFullDiskIsRefusedSayingSo: a start writes its record into
// the lock file (a new one, or, on a copy-on-write file system, any write
// takes new blocks), and without it the next start after a crash could not
// tell a log that lost its WAL: on a full disk the start is refused, and
// rightly. Its error named the lock file twice and said only "no space left
// on device": it must say that the data directory's file system is full,
// why the start needs the write, and to free space and start again.
func TestAStartOnAFullDiskIsRefusedSayingSo(t *testing.T) {
	t.Parallel()
	const name = "/srv/tributary/data/tributary.lock"
	err := writeStartRecord(fullDisk{name}, "1234\n"+headLine(42))
	if err == nil {
		t.Fatal("a start's record written on a full disk: no error; expected the start refused")
	}
	msg := err.Error()
	if !errors.Is(err, syscall.ENOSPC) || strings.Count(msg, name) != 1 || !strings.Contains(msg, "full") ||
		!strings.Contains(msg, "free some space") || !strings.Contains(msg, "crash") {
		t.Errorf("a start's record written on a full disk: %q; expected ENOSPC, the lock file named once, and a message saying the file system is full, "+
			"why the record is needed (a crash), and to free some space", msg)
	}
	if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) {
		t.Errorf("a start's record written on a full disk: %q; expected it to wrap eventstore.ErrFull and ErrDiskFull, as Open's doc promises", msg)
	}
}
