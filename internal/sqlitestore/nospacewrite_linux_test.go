package sqlitestore_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// inFileSizeLimit is set in the environment of this package's test binary
// run again by TestAWriteErrorWithNoRoomLeftIsFullAndPassesOnceThereIsRoom,
// whose file size limit (RLIMIT_FSIZE) it lowers: for the whole process.
const inFileSizeLimit = "SQLITESTORE_TEST_FILE_SIZE_LIMIT"

// TestAWriteErrorWithNoRoomLeftIsFullAndPassesOnceThereIsRoom: SQLite
// answers SQLITE_FULL only for a write refused with ENOSPC; a quota used
// up (EDQUOT: an XFS project quota, Docker's --storage-opt size, an NFS
// quota) is an I/O error, SQLITE_IOERR_WRITE, which was a storage failure:
// "retrying will not help", "mend it, then restart the server", though
// appends pass again, with no restart, once space is freed. This machine
// has no quotas; a write past the process's file size limit (RLIMIT_FSIZE,
// SIGXFSZ ignored: EFBIG) is the same I/O error, and a tmpfs filled to the
// last byte is the file system with no room left. A write error where
// there is room is still a storage failure; one where there is none must
// be the file system full (ErrFull, ErrDiskFull), saying appends pass again
// once space is freed, and appends must pass again once it is, and the
// limit raised, without a restart.
func TestAWriteErrorWithNoRoomLeftIsFullAndPassesOnceThereIsRoom(t *testing.T) {
	if os.Getenv(inFileSizeLimit) == "" {
		t.Parallel()
		cmd := exec.Command(os.Args[0], "-test.run=^TestAWriteErrorWithNoRoomLeftIsFullAndPassesOnceThereIsRoom$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), inFileSizeLimit+"=1")
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("the test in a process of its own skipped:\n%s", out)
		}
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("the test in a process of its own, with a file size limit: %v; expected it to pass:\n%s", err, out)
		}
		return
	}
	dir := smallDisk(t, "8m")
	s := teststore.OpenSQLite(t, dir)

	// Past the limit a write fails with EFBIG, where without SIGXFSZ
	// ignored the process would be killed.
	signal.Ignore(syscall.SIGXFSZ)
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
		t.Fatal(err)
	}
	const limit = 2 << 20
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: was.Max}); err != nil {
		t.Fatal(err)
	}
	// Raised again before the store's stop (a cleanup run before the
	// store's), which checkpoints.
	raised := false
	raise := func() {
		if !raised {
			raised = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &was); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(raise)

	stream, one := bigAppends(t, s)
	acknowledged, err := appendUntilRefused(one, 60) // 6 MB: far past the limit's 2
	if !errors.Is(err, eventstore.ErrStorageFailed) || errors.Is(err, eventstore.ErrFull) {
		t.Fatalf("an append of 100 KB past a file size limit of 2 MB, on a disk with room: %v; want ErrStorageFailed (an I/O error "+
			"on a write), not ErrFull", err)
	}

	// The disk filled to the last byte, by files each within the limit.
	unfill := func() {
		for i := 0; ; i++ {
			if err := os.Remove(filepath.Join(dir, fmt.Sprintf("filler-%d", i))); errors.Is(err, os.ErrNotExist) {
				return
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(unfill)
	for i := 0; ; i++ {
		err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("filler-%d", i)), make([]byte, 1<<20), 0o600)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The probe's answer to the error where there was room serves the
	// errors of the moment after it (a second): appended again until a
	// probe answers again, for at most half a minute.
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		err := one()
		if err == nil {
			acknowledged++
		}
		if err == nil || errors.Is(err, eventstore.ErrFull) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 2 {
		err := one()
		if !errors.Is(err, eventstore.ErrFull) || !errors.Is(err, eventstore.ErrDiskFull) || !errors.Is(err, eventstore.ErrUnavailable) ||
			errors.Is(err, eventstore.ErrStorageFailed) || !strings.Contains(err.Error(), "appends pass again once space is freed") ||
			!strings.Contains(err.Error(), "quota") {
			t.Fatalf("append %d after %d, a write refused (an I/O error) where the file system has no room left: %v; "+
				"want ErrUnavailable, ErrFull and ErrDiskFull, not ErrStorageFailed, saying appends pass again once space is "+
				"freed, and naming a quota", i+1, acknowledged, err)
		}
	}

	unfill()
	raise()
	if err := one(); err != nil {
		t.Fatalf("an append once there is room again: %v; want it to pass without a restart", err)
	}
	acknowledged++
	if read := streamLength(t, s, stream); read != acknowledged {
		t.Errorf("the stream holds %d events; want the %d acknowledged", read, acknowledged)
	}
}
