package sqlitestore_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestANewVolumeMountedOnTheDataDirectoryIsNotTakenForOneNotMounted: the
// image's first start, on the new volume Docker mounts at /data, warned
// "(a mount point whose volume is not mounted?) … stop the server now",
// every time, so operators learned to pass over the line that matters when
// a volume is not mounted. A directory with a file system of its own
// mounted on it is said to be a new volume, expected on a first start; the
// advice to stop a server that served a log before stays.
func TestANewVolumeMountedOnTheDataDirectoryIsNotTakenForOneNotMounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		t.Skipf("mount a tmpfs on %s: %v (a mount point needs root)", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount the test's tmpfs at %s: %v", dir, err)
		}
	})
	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open on the new volume at %s: %v", dir, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "no log found") {
			line = l
		}
	}
	for _, want := range []string{filepath.Join(dir, sqlitestore.FileName), "expected on a first start on a new volume", "stop the server now"} {
		if !strings.Contains(line, want) {
			t.Errorf("Open on a new volume mounted at %s logged:\n%s\nwant a line holding %q", dir, logs.String(), want)
		}
	}
	if strings.Contains(line, "not mounted?") {
		t.Errorf("Open on a new volume mounted at %s logged:\n%s\nwant no question whether a volume is mounted: one is", dir, logs.String())
	}
}
