package tests

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheEmbeddedStoreAppendsLargeBatchesWithNoWritableTemporaryDirectory:
// in a container whose root file system is read-only (docker run
// --read-only, Kubernetes' readOnlyRootFilesystem) with a volume for the
// data directory only, SQLite found no directory to write its temporary
// files in (/var/tmp, /tmp, the working directory), and every append that
// made it spill one (a statement journal past 64 KiB: a batch of 300 small
// events, 50 of 40 KB) failed 503 "disk I/O error (6410)", forever, while
// /readyz said 200. The server runs here in a mount namespace of its own
// where those three are read-only and the data directory is not; both
// appends must be written.
func TestTheEmbeddedStoreAppendsLargeBatchesWithNoWritableTemporaryDirectory(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("this test needs a mount namespace of its own (unshare --mount, as root or with CAP_SYS_ADMIN): %v: %s", err, out)
	}
	dir := t.TempDir()
	data, cwd := filepath.Join(dir, "data"), filepath.Join(dir, "cwd")
	for _, d := range []string{data, cwd} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// The data directory stays writable (a mount of its own, as a volume
	// is); /tmp, /var/tmp and the working directory are made read-only
	// (their mounts, recursive, each made read-only at its top only). The
	// api binary, in /tmp, still runs. unshare and the shells exec, so the
	// server's pid is the one launchBinary started.
	inner := `set -e
mount --bind "$RO_DATA" "$RO_DATA"
for d in /tmp /var/tmp "$RO_CWD"; do
	mount --rbind "$d" "$d"
	mount -o remount,bind,ro "$d"
done
cd "$RO_CWD"
if touch /tmp/.tributary-ro-check /var/tmp/.tributary-ro-check ./.tributary-ro-check 2>/dev/null; then
	echo "a temporary directory is still writable" >&2; exit 98
fi
touch "$RO_DATA/.tributary-rw-check" || { echo "the data directory is not writable" >&2; exit 97; }
rm "$RO_DATA/.tributary-rw-check"
unset TMPDIR SQLITE_TMPDIR
exec "$RO_API"
`
	script := filepath.Join(dir, "api-readonly-temp")
	body := "#!/bin/sh\nexec unshare --mount --propagation private sh -c '" + strings.ReplaceAll(inner, "'", `'\''`) + "'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatalf("write %s: %v", script, err)
	}
	s := launchBinary(t, script, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+data,
		"RO_DATA="+data, "RO_CWD="+cwd, "RO_API="+apiBinary)
	s.waitListening(t)

	stream := newID()
	first, second := newSentBatch(t, stream, 300, ""), newSentBatch(t, stream, 300, "")
	first.send(s)
	second.send(s)
	large := newSentBatch(t, newID(), 50, strings.Repeat("x", 40_000))
	large.send(s)
	for _, b := range []struct {
		name string
		*sentBatch
	}{
		{"a batch of 300 small events to a new stream", first},
		{"a batch of 300 small events to that stream, of 300 events", second},
		{"a batch of 50 events of 40 KB", large},
	} {
		if b.status != http.StatusCreated {
			detail := ""
			if b.answer != nil {
				detail = string(b.answer.Body)
			}
			t.Errorf("%s, with no writable temporary directory: status %d (%v) %s; expected 201", b.name, b.status, b.err, detail)
		}
	}
}
