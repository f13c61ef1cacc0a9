package http_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
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
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("a full disk needs a small file system of its own, and this process may not mount a tmpfs (%v): run the test as root", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the test's tmpfs %s: %v", dir, err)
		}
	})
	store := teststore.OpenSQLite(t, dir)
	s := newServer(t, nil, store)
	ctx := t.Context()

	reader, err := sql.Open("sqlite", "file:"+store.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	conn, err := reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.ExecContext(context.Background(), "ROLLBACK"); conn.Close() }) //nolint:errcheck // the test's end
	var n int
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM log_head").Scan(&n); err != nil {
		t.Fatal(err)
	}
	// The WAL up to a little short of the index's first region's 4,062
	// frames, one small append at a time (straight to the store: faster).
	walPath := store.Path() + "-wal"
	frames := func() int64 {
		b, err := os.ReadFile(walPath)
		if err != nil || len(b) < 32 {
			t.Fatalf("read the WAL: %v", err)
		}
		return (int64(len(b)) - 32) / (24 + int64(binary.BigEndian.Uint32(b[8:12])))
	}
	stream := uuid.New()
	for frames() < 3900 {
		if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "a",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`"` + strings.Repeat("d", 20) + `"`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	wal, err := os.OpenFile(walPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := wal.Stat()
	if err == nil {
		err = syscall.Fallocate(int(wal.Fd()), 1 /* FALLOC_FL_KEEP_SIZE */, fi.Size(), 4<<20)
	}
	wal.Close()
	if err != nil {
		t.Skipf("allocate room beyond the WAL's end: %v", err)
	}
	// The rest of the disk filled, to its last byte; freed before the
	// store's close (which checkpoints) at the test's end.
	var fillers []string
	t.Cleanup(func() {
		for _, name := range fillers {
			os.Remove(name)
		}
	})
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 1} {
		for i := 0; ; i++ {
			name := filepath.Join(dir, fmt.Sprintf("filler-%d-%d", size, i))
			fillers = append(fillers, name)
			if err := os.WriteFile(name, make([]byte, size), 0o600); err != nil {
				os.Remove(name)
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}

	for i := range 400 {
		r := s.do(http.MethodPost, "/streams/"+stream.String()+"/events", `{"stream_type":"a","events":[{"type":"X","data":"d"}]}`)
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
