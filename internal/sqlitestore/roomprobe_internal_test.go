package sqlitestore

import (
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestTwoWriteErrorsWithinAMomentRunOneRoomProbe: after SQLite's I/O error
// on a write, the store writes, syncs and removes a 64 KiB file to tell a
// file system with no room left from a failing one; nothing remembered its
// answer, so on a failing disk every failing write group probed again (a
// file made and removed, 64 KiB allocated, written and synced) on the one
// writer's path. Two errors within the moment its answer is remembered
// must run one probe, and both get its answer.
func TestTwoWriteErrorsWithinAMomentRunOneRoomProbe(t *testing.T) {
	t.Parallel()
	s := &Store{path: filepath.Join(t.TempDir(), FileName)}
	var probes atomic.Int64
	s.room.probe = func(dir string) error {
		probes.Add(1)
		return noRoomIn(dir)
	}
	for i := range 2 {
		if full := s.noRoom(); full != nil {
			t.Fatalf("room check %d in a directory with room: %v; want nil", i+1, full)
		}
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("two room checks in a row ran %d probes; want 1, the second reusing the first's answer", n)
	}
}

// TestAHungRoomProbeDoesNotHoldTheWriter: the room probe took no context,
// so an fsync hung on a dying disk held the writer past the request's and
// the stop's timeouts. A probe that does not end within roomWait must be
// answered as no verdict (the I/O error stays a storage failure), and
// checks meanwhile must start no other probe.
func TestAHungRoomProbeDoesNotHoldTheWriter(t *testing.T) {
	t.Parallel()
	s := &Store{path: filepath.Join(t.TempDir(), FileName)}
	release := make(chan struct{})
	var probes atomic.Int64
	s.room.probe = func(string) error {
		probes.Add(1)
		<-release
		return nil
	}
	t.Cleanup(func() { close(release) })
	for i := range 3 {
		if full := s.noRoom(); full != nil {
			t.Fatalf("room check %d with the probe hung: %v; want nil", i+1, full)
		}
	}
	if n := probes.Load(); n != 1 {
		t.Errorf("three room checks while a probe hung started %d probes; want 1, one at a time", n)
	}
}
