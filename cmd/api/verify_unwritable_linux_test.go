package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/execfile"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// verifyAsEnv, set, makes TestVerifyChecksACopyItMayReadButNotWrite the
// child it starts as another user: it verifies that directory and prints
// the result.
const verifyAsEnv = "TRIBUTARY_TEST_VERIFY_DIR"

// TestVerifyChecksACopyItMayReadButNotWrite: `api verify` of a copy that
// its user may read but not write (root's files, a user's verify) was
// refused, told to give the files to this user, as a start is: the
// read-only path was taken only on a read-only file system. Verify, which
// only reads, now takes it too where the directory or its files are not
// writable (permissions), and names the damage without writing it down.
// As root, which starts the check as nobody (uid 65534).
func TestVerifyChecksACopyItMayReadButNotWrite(t *testing.T) {
	if dir := os.Getenv(verifyAsEnv); dir != "" {
		cfg := config.Defaults()
		cfg.DataDir = dir
		err := verifyStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(os.Stdout, nil)))
		fmt.Printf("\nRESULT: %v\n", err)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("the test starts a check as another user, which needs root")
	}
	dir := newVerifyStore(t)
	// Readable by all, writable by root alone; the test binary copied
	// where nobody may run it.
	bin := filepath.Join(t.TempDir(), "verify.test")
	copyExecutable(t, os.Args[0], bin)
	for _, p := range []string{filepath.Dir(dir), dir, filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	verifyAsNobody := func() string {
		t.Helper()
		cmd := exec.Command(bin, "-test.run=^TestVerifyChecksACopyItMayReadButNotWrite$", "-test.count=1")
		cmd.Env = append(os.Environ(), verifyAsEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the check as nobody: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := verifyAsNobody(); !strings.Contains(out, "RESULT: <nil>") || !strings.Contains(out, `"events":3`) {
		t.Errorf("api verify, as a user who may read but not write them, of 3 sound events:\n%s\nexpected it to verify them", out)
	}

	damageVerifyMarker(t, dir)
	if out := verifyAsNobody(); !strings.Contains(out, "position 2 ") || !strings.Contains(out, "not written down") {
		t.Errorf("api verify, as a user who may not write them, of a file whose event at position 2 went bad:\n%s\nexpected it to name position 2, not written down", out)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlitestore.DamagedFileName)); err == nil {
		t.Errorf("api verify as a user who may not write the directory wrote %s", sqlitestore.DamagedFileName)
	}
}

// copyExecutable copies the executable from to to, mode 0755, through
// execfile.Write: never open for writing in this process, which forks.
func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := execfile.Write(to, b); err != nil {
		t.Fatal(err)
	}
}
