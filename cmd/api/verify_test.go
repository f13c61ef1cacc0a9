package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestVerifyNamesTheEventsThatFailTheirChecksums: `api verify` checks
// every event of the embedded store, with the server stopped, and fails
// naming the position of each that no longer matches its checksum; on a
// healthy file it logs how many it checked and succeeds.
func TestVerifyNamesTheEventsThatFailTheirChecksums(t *testing.T) {
	t.Parallel()
	dir := newVerifyStore(t)
	cfg := config.Defaults()
	cfg.DataDir = dir

	var logs testlog.Buffer
	if err := verifyStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("api verify of a healthy file: %v; expected it to succeed", err)
	}
	if !strings.Contains(logs.String(), `"msg":"verified`) || !strings.Contains(logs.String(), `"events":3`) {
		t.Errorf("api verify of a healthy file of 3 events logged:\n%s\nexpected it to say it verified 3 events", logs.String())
	}

	damageVerifyMarker(t, dir)
	err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	// One event is said as one (it said "1 of its 3 events do not match
	// their checksums, at positions 2").
	if err == nil || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "1 of its 3 events does not match its checksum") ||
		!strings.Contains(err.Error(), "position 2 ") || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Errorf("api verify of a file whose event at position 2 went bad: %v; expected it to fail naming position 2 of 3 events, in the singular, and saying to restore", err)
	}
}

// TestVerifyRefusesWhatItCannotVerify: a data directory without a database
// is not made one, and MySQL, which keeps no checksum of an event, is not
// verified.
func TestVerifyRefusesWhatItCannotVerify(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.DataDir = filepath.Join(t.TempDir(), "none")
	if err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "no database file") {
		t.Errorf("api verify of a data directory without a database: %v; expected it refused", err)
	}
	if _, err := os.Stat(cfg.DataDir); err == nil {
		t.Errorf("api verify made the data directory %s", cfg.DataDir)
	}
	cfg.MySQLDSN = "user@tcp(127.0.0.1:3306)/db"
	if err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "MySQL") {
		t.Errorf("api verify with a MySQL DSN: %v; expected it refused, saying MySQL keeps no checksum of an event", err)
	}
}

// verifyMarker is in the data of the second of the three events that
// newVerifyStore appends; damageVerifyMarker changes it on disk.
const verifyMarker = `"MARKER-0123456789","amount":100`

// newVerifyStore makes a migrated embedded store in a new directory, holds
// three events of one stream (the second's data holding verifyMarker),
// closes it and returns the directory.
func newVerifyStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	stream := uuid.New()
	for _, d := range []string{`{"n":1}`, `{"m":` + verifyMarker + `}`, `{"n":3}`} {
		req := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{{Type: "Paid", Data: []byte(d)}}}
		if _, err := s.Append(t.Context(), req); err != nil {
			s.Close()
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// damageVerifyMarker changes verifyMarker's amount in dir's database file
// (100 to 108: still JSON), so that the second event fails its checksum.
func damageVerifyMarker(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, sqlitestore.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte(verifyMarker)) != 1 {
		t.Fatalf("the marker is %d times in the file; expected once", bytes.Count(b, []byte(verifyMarker)))
	}
	b[bytes.Index(b, []byte(verifyMarker))+len(verifyMarker)-1] = '8' // 100 → 108: still JSON
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyOfABackupLeavesNothingBesideIt: `api verify` of a backup in a
// writable directory (the database file alone, as `VACUUM INTO` or a copy
// leaves it) left a tributary.lock beside it, which the restore steps then
// say to remove. The lock file it made is removed as it ends, while it
// still holds it; one that was there is kept, with its record.
func TestVerifyOfABackupLeavesNothingBesideIt(t *testing.T) {
	t.Parallel()
	dir := newVerifyStore(t)
	lock := filepath.Join(dir, "tributary.lock")
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	names := func() []string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("api verify of a healthy backup: %v; expected it to succeed", err)
	}
	if got := names(); len(got) != 1 || got[0] != sqlitestore.FileName {
		t.Errorf("api verify of a directory holding only %s: expected nothing left beside it, got %q", sqlitestore.FileName, got)
	}

	// A data directory with its lock file (a server's, stopped): kept.
	if err := os.WriteFile(lock, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("api verify of a stopped server's data directory: %v; expected it to succeed", err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("api verify of a data directory with its lock file removed it: %v; expected it kept", err)
	}
}

// TestVerifyOfADamagedCopyLeavesNoLockFile: `api verify` of a copy that
// holds a damaged event failed, as it should, but left the tributary.lock
// it made beside it, with a head in it, as a crashed server's: an older
// backup later put in that directory was refused at start until the lock
// was removed. Only tributary.damaged, the mark README documents, is left.
func TestVerifyOfADamagedCopyLeavesNoLockFile(t *testing.T) {
	t.Parallel()
	dir := newVerifyStore(t)
	if err := os.Remove(filepath.Join(dir, "tributary.lock")); err != nil {
		t.Fatal(err)
	}
	damageVerifyMarker(t, dir)
	cfg := config.Defaults()
	cfg.DataDir = dir
	if err := verifyStore(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("api verify of a copy with a damaged event succeeded; expected it to fail")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != sqlitestore.FileName && e.Name() != "tributary.damaged" {
			t.Errorf("api verify of a damaged copy left %s beside it; expected only %s and tributary.damaged", e.Name(), sqlitestore.FileName)
		}
	}
}

// TestVerifyChecksTheFileOnce: `api verify` of a copy logged "database file
// checked" twice for the one file, a moment apart: the open checks every
// page of a file it cannot tell stopped cleanly, and the verify checked
// them all again. The pages are checked, and said so, once.
func TestVerifyChecksTheFileOnce(t *testing.T) {
	t.Parallel()
	dir := newVerifyStore(t)
	if err := os.Remove(filepath.Join(dir, "tributary.lock")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.DataDir = dir
	var logs testlog.Buffer
	if err := verifyStore(t.Context(), cfg, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatalf("api verify of a copy: %v; expected it to succeed", err)
	}
	if n := strings.Count(logs.String(), `"msg":"database file checked"`); n != 1 {
		t.Errorf("api verify of a copy said %d times that the database file was checked; want once:\n%s", n, logs.String())
	}
}
