package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestVerifyChecksACopyOnAReadOnlyFileSystem: `api verify`, what an
// operator runs on a backup or a snapshot before restoring it, failed on
// one mounted read-only with "open lock file: … read-only file system". It
// must check the file as it is (nothing can write it: no lock is needed),
// naming the events that fail their checksums as on a writable one; serve
// and migrate, which must write, are refused saying the directory is on a
// read-only file system. As root, which may bind-mount a directory
// read-only.
func TestVerifyChecksACopyOnAReadOnlyFileSystem(t *testing.T) {
	t.Parallel()
	dir := newVerifyStore(t)
	ro := t.TempDir()
	mountOrSkip(t, dir, ro, "", syscall.MS_BIND, "", "a read-only file system needs a bind mount")
	if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("this process may not make a bind mount read-only (%v)", err)
	}
	cfg := config.Defaults()
	cfg.DataDir = ro
	verifiesThreeEvents(t, cfg, "a healthy file on a read-only file system")
	if s, err := sqlitestore.Open(t.Context(), ro, sqlitestore.Options{}); err == nil {
		s.Close()
		t.Errorf("a start on a read-only file system: expected it refused, got a store")
	} else if !strings.Contains(err.Error(), "on a read-only file system") || !strings.Contains(err.Error(), "mount it read-write") {
		t.Errorf("a start on a read-only file system: %v; expected it refused, saying the directory is on a read-only file system", err)
	}

	// Damaged through the writable path: the read-only one names it.
	damageVerifyMarker(t, dir)
	err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "1 of its 3 events") || !strings.Contains(err.Error(), "position 2 ") {
		t.Errorf("api verify of a read-only file whose event at position 2 went bad: %v; expected it to fail naming position 2 of 3 events", err)
	}
	// It writes no list: its last words must not send the operator to one.
	if err == nil || strings.Contains(err.Error(), "written down in") || !strings.Contains(err.Error(), "not written down") {
		t.Errorf("api verify of a damaged read-only file: %v; expected it to say the positions are not written down, not where they are", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlitestore.DamagedFileName)); err == nil {
		t.Errorf("api verify on a read-only file system wrote %s", sqlitestore.DamagedFileName)
	}

	// A WAL beside it holds commits the file does not, which SQLite reads
	// only where it may write: refused, not verified without them.
	if err := os.WriteFile(filepath.Join(dir, sqlitestore.FileName)+"-wal", []byte("a WAL's commits"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "-wal") || !strings.Contains(err.Error(), "verify the copy there") {
		t.Errorf("api verify of a read-only file with a WAL beside it: %v; expected it refused, saying to verify a copy of both", err)
	}
}

// mountOrSkip mounts source on target as syscall.Mount does, and unmounts
// it when t ends; where this process may not (it is not root), it skips t,
// saying why the test needs the mount.
func mountOrSkip(t *testing.T, source, target, fstype string, flags uintptr, data, why string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		t.Skipf("%s, and this process may not make one (%v): run the test as root", why, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, 0); err != nil {
			t.Errorf("unmount the test's mount %s: %v", target, err)
		}
	})
}

// verifiesThreeEvents runs `api verify` with cfg on what, a healthy
// stopped store of newVerifyStore's 3 events, failing t unless it succeeds
// and logs that it verified 3 events. It returns what verify logged.
func verifiesThreeEvents(t *testing.T, cfg config.Config, what string) string {
	t.Helper()
	var logs testlog.Buffer
	if err := verifyStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("api verify of %s: %v; expected it to succeed", what, err)
	}
	if !strings.Contains(logs.String(), `"msg":"verified`) || !strings.Contains(logs.String(), `"events":3`) {
		t.Errorf("api verify of %s logged:\n%s\nexpected it to say it verified 3 events", what, logs.String())
	}
	return logs.String()
}
