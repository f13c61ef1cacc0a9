package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
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
	mountOrSkip(t, "tmpfs", disk, "tmpfs", 0, "size=2m", "a full disk needs a small file system of its own, a tmpfs")
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
	// It checks the file read-only, saying why.
	if logs := verifiesThreeEvents(t, cfg, "a healthy, stopped store on a full disk"); !strings.Contains(logs, "no room left") {
		t.Errorf("api verify on a full disk logged:\n%s\nexpected it to say the file system has no room left", logs)
	}
	if _, err := os.Stat(filepath.Join(disk, sqlitestore.DamagedFileName)); err == nil {
		t.Errorf("api verify on a full disk wrote %s", sqlitestore.DamagedFileName)
	}
}
