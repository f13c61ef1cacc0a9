//go:build unix

package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAStartBesideOneThatHasNotWrittenItsPidSaysSo: two processes started
// on one data directory at the same instant; the one refused read the lock
// file before the other wrote its pid into it, and said "in use by another
// Tributary process (pid )". It must say the pid is not yet written (or
// the pid, once it is), never an empty one, nor the record of a clean stop
// the holder has not yet written over.
func TestAStartBesideOneThatHasNotWrittenItsPidSaysSo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, content, want string }{
		{"empty", "", "(its pid not yet written)"},
		{"a clean stop's record", "stopped cleanly: dev 1 inode 2 size 3 mtime 4\n", "(its pid not yet written)"},
		{"a pid", "4242\n", "(pid 4242)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			lock, err := os.OpenFile(filepath.Join(dir, "tributary.lock"), os.O_RDWR|os.O_CREATE, 0o640)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lock.Close() })
			if _, err := lock.WriteString(c.content); err != nil {
				t.Fatal(err)
			}
			// As the other process has: the lock taken, its pid not yet written.
			if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open beside a process holding the lock: expected ErrInUse, got a store")
			}
			if !errors.Is(err, sqlitestore.ErrInUse) || !strings.Contains(err.Error(), "in use by another Tributary process "+c.want) {
				t.Errorf("Open beside a process holding the lock, its lock file holding %q: got %v; want ErrInUse saying %q", c.content, err, c.want)
			}
		})
	}
}
