package sqlitestore_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADataDirectoryOnTmpfsIsWarnedOfAtEveryStart: the embedded store on
// /dev/shm (tmpfs) started without a word, though a reboot or a power cut
// there loses the whole log. Every start must warn, naming the directory
// and the file system; a start on a disk says nothing of it.
func TestADataDirectoryOnTmpfsIsWarnedOfAtEveryStart(t *testing.T) {
	t.Parallel()
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm here")
	}
	top, err := os.MkdirTemp("/dev/shm", "tributary-tmpfs-")
	if err != nil {
		t.Skipf("cannot make a directory in /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	open := func(dir string) string {
		t.Helper()
		var logs testlog.Buffer
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("Open in %s: %v", dir, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	dir := filepath.Join(top, "data")
	for i := range 2 {
		logged := open(dir)
		if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "the data directory "+dir+" is on tmpfs") ||
			!strings.Contains(logged, "a reboot or a power cut loses the whole log") {
			t.Errorf("start %d in %s (tmpfs) logged:\n%s\nwant a WARN line saying the directory is on tmpfs and a reboot loses the log", i+1, dir, logged)
		}
	}
	// A start on a disk says nothing of it (t.TempDir may be on tmpfs: the
	// package's directory is not, where it is on a disk).
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(wd, &st); err != nil || st.Type == 0x01021994 || uint32(st.Type) == 0x858458f6 {
		return
	}
	onDisk, err := os.MkdirTemp(wd, "testdata-disk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(onDisk) })
	if logged := open(filepath.Join(onDisk, "data")); strings.Contains(logged, "a file system kept in memory") {
		t.Errorf("a start in %s, on a disk, logged:\n%s\nwant nothing of a file system kept in memory", onDisk, logged)
	}
}
