package execfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAWrittenScriptRunsWhileTheProcessForks writes and runs scripts while
// other goroutines keep forking children: with os.WriteFile, one of the
// runs fails with "text file busy" now and then; with Write, none may.
func TestAWrittenScriptRunsWhileTheProcessForks(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				exec.Command("true").Run() //nolint:errcheck // only the forks matter
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 200 {
		path := filepath.Join(dir, "script"+strings.Repeat("x", i%3))
		if err := Write(path, []byte("#!/bin/sh\necho ran\n")); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(path).Output()
		if err != nil {
			t.Fatalf("run %s (round %d): %v", path, i, err)
		}
		if string(out) != "ran\n" {
			t.Fatalf("run %s: output %q; expected %q", path, out, "ran\n")
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Fatalf("mode %v; expected 0755", fi.Mode().Perm())
		}
	}
}
