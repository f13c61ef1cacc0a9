package main

import (
	"errors"
	"fmt"
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

// TestVerifyChecksAStoppedStoreOnAFullDisk: `api verify` only reads, but
// it opened the store as a server does, which makes the -shm file: on a
// data directory whose file system had no room left it failed (SQLite's
// "disk I/O error (4874)", then the file system full), and checked
// nothing, though a full disk is when an operator wants to know the file
// is sound before moving it. It must check the file read-only, as on a
// read-only file system, writing nothing. As root, which may mount a tmpfs.
func TestVerifyChecksAStoppedStoreOnAFullDisk(t *testing.T) {
	t.Parallel()
	src := newVerifyStore(t)
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("a full disk needs a small file system of its own, and this process may not mount a tmpfs (%v): run the test as root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(disk, 0); err != nil {
			t.Errorf("unmount the test's tmpfs %s: %v", disk, err)
		}
	})
	for _, name := range []string{sqlitestore.FileName, "tributary.lock"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(disk, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{64 << 10, 4 << 10, 1} {
		for i := 0; ; i++ {
			name := filepath.Join(disk, fmt.Sprintf("filler-%d-%d", size, i))
			if err := os.WriteFile(name, make([]byte, size), 0o600); errors.Is(err, syscall.ENOSPC) {
				os.Remove(name)
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := config.Defaults()
	cfg.DataDir = disk
	var logs testlog.Buffer
	if err := verifyStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("api verify of a healthy, stopped store on a full disk: %v; expected it to check the file read-only and succeed", err)
	}
	if !strings.Contains(logs.String(), `"msg":"verified`) || !strings.Contains(logs.String(), `"events":3`) ||
		!strings.Contains(logs.String(), "no room left") {
		t.Errorf("api verify on a full disk logged:\n%s\nexpected it to say the file system has no room left and that it verified 3 events", logs.String())
	}
	if _, err := os.Stat(filepath.Join(disk, sqlitestore.DamagedFileName)); err == nil {
		t.Errorf("api verify on a full disk wrote %s", sqlitestore.DamagedFileName)
	}
}
