package http_test

import (
	"fmt"
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
	dir := teststore.MountTmpfs(t, "size=8m")
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

// TestReadyzSaysAppendsAreRefusedOnARealFullDiskWhereEachCommitIsOfUnknownOutcome:
// the embedded store on a full disk whose WAL's index (the -shm) could not
// grow at COMMIT (SQLITE_IOERR_SHMSIZE) answers every append of unknown
// outcome, its cause outcome_unknown first: /readyz said nothing of
// appends, and each client was told only to retry after 2 s. /readyz says
// appends are refused, cause full, and the 503 that no room is left. The
// setup of sqlitestore's TestACommitWhoseIndexCouldNotGrowOnAFullDiskSaysTheDiskIsFull
// (a read held open keeps the WAL growing past the index's first region;
// room allocated beyond the WAL's end for its frames, none for the
// index), behind a server. Skipped where this process may not mount a
// tmpfs (not root) or allocate beyond a file's end.
func TestReadyzSaysAppendsAreRefusedOnARealFullDiskWhereEachCommitIsOfUnknownOutcome(t *testing.T) {
	t.Parallel()
	dir := teststore.MountTmpfs(t, "size=64m")
	store := teststore.OpenSQLite(t, dir)
	s := newServer(t, nil, store)
	stream := uuid.New()
	frames := teststore.WALShortOfItsIndexEdge(t, store, dir, stream)

	for i := range 400 {
		r := s.do(http.MethodPost, "/streams/"+stream.String()+"/events", `{"stream_type":"t","events":[{"type":"X","data":"d"}]}`)
		if r.status == http.StatusCreated {
			continue
		}
		expectStatus(t, fmt.Sprintf("append %d after the disk filled", i), r, http.StatusServiceUnavailable)
		detail, _ := r.json(t)["detail"].(string)
		if !strings.Contains(detail, "may have been written") {
			t.Fatalf("append %d after the disk filled, the WAL at %d frames: %q; want of unknown outcome (its index could not grow)", i, frames(), detail)
		}
		if !strings.Contains(detail, "no room left") {
			t.Errorf("an append of unknown outcome on a full disk: %q; want it to say the file system has no room left", detail)
		}
		if got := readyzBody(t, s, "on a full disk"); got["appends"] != "refused" || got["cause"] != "full" {
			t.Errorf("/readyz with an append of unknown outcome on a full disk: %v; want 200, appends refused, cause full", got)
		}
		return
	}
	t.Fatalf("400 appends after the disk filled all passed, the WAL at %d frames; want one whose index could not grow", frames())
}
