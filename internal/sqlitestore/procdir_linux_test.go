package sqlitestore_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestADataDirectoryThatCannotBeMadeInAParentThatExistsSaysSo: with
// TRIBUTARY_DATA_DIR=/proc/x the store said that /proc/x did not exist
// "nor does its parent /proc", which is there: procfs answers a mkdir
// with ENOENT, as file systems that make no directories do. The error
// now says that the parent exists and makes no directory there, and
// nothing sends the operator looking for a volume that is mounted.
func TestADataDirectoryThatCannotBeMadeInAParentThatExistsSaysSo(t *testing.T) {
	t.Parallel()
	if fi, err := os.Stat("/proc/self"); err != nil || !fi.IsDir() {
		t.Skipf("no procfs at /proc (%v)", err)
	}
	dir := filepath.Join("/proc", "tributary-test-"+strconv.Itoa(os.Getpid()))
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
		t.Fatalf("Open in %s: it opened; want it refused", dir)
	}
	if strings.Contains(err.Error(), "nor does its parent") {
		t.Errorf("Open in %s: %q; want it not to say that /proc does not exist", dir, err)
	}
	for _, want := range []string{dir, "/proc exists", "cannot be made"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open in %s: %q; want it to say %q", dir, err, want)
		}
	}
}
