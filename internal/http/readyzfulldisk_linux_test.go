package http_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestReadyzSaysAppendsAreRefusedOnARealFullDiskAndClearsOnceOneIsWritten:
// /readyz's word on refused appends was proven only with a store that
// returns a made-up error. On the embedded store filling a real small file
// system (SQLITE_FULL), /readyz stays 200 (reads are served) and says
// appends are refused, cause full; once the disk has room and an append is
// written, it says only ok. Skipped where this process may not mount a
// tmpfs (not root).
func TestReadyzSaysAppendsAreRefusedOnARealFullDiskAndClearsOnceOneIsWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("a full disk needs a small file system of its own, and this process may not mount a tmpfs (%v): run the test as root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the test's tmpfs %s: %v", dir, err)
		}
	})
	s := newServer(t, nil, teststore.OpenSQLite(t, dir))
	body := `{"stream_type":"a","events":[{"type":"X","data":"` + strings.Repeat("x", 60_000) + `"}]}`
	refused := false
	for range 400 { // 24 MB: far past the disk's 8
		r := s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", body)
		if r.status == http.StatusServiceUnavailable {
			refused = true
			break
		}
		expectStatus(t, "an append with room on the disk", r, http.StatusCreated)
	}
	if !refused {
		t.Fatalf("400 appends of 60 KB all passed on an 8 MB disk")
	}
	if got := readyzBody(t, s, "on a full disk"); got["appends"] != "refused" || got["cause"] != "full" {
		t.Errorf("/readyz on a full disk: %v; want 200, appends refused, cause full", got)
	}
	expectStatus(t, "a read on a full disk", s.do(http.MethodGet, "/events?limit=1", ""), http.StatusOK)

	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatalf("grow the test's tmpfs: %v", err)
	}
	expectStatus(t, "an append once the disk has room", s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", oneEvent), http.StatusCreated)
	if got := readyzBody(t, s, "once an append is written again"); len(got) != 1 {
		t.Errorf("/readyz once an append is written again on a disk with room: %v; want only the status", got)
	}
}
