// Package readonlytemp runs a program as a container with a read-only root
// file system runs it (docker run --read-only, Kubernetes'
// readOnlyRootFilesystem) as far as SQLite's temporary files go: /tmp,
// /var/tmp and the working directory read-only, a data directory writable
// (a volume), in a mount namespace of its own that nothing else sees.
package readonlytemp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/execfile"
)

// inner makes the mounts and execs the program: the data directory a bind
// mount of its own (writable, as a volume); /tmp, /var/tmp and the working
// directory each bound again recursively, and made read-only at the top
// only (the data directory's mount below stays writable); TMPDIR and
// SQLITE_TMPDIR unset. It checks both before it execs.
const inner = `set -e
mount --bind "$RO_DATA" "$RO_DATA"
for d in /tmp /var/tmp "$RO_CWD"; do
	mount --rbind "$d" "$d"
	mount -o remount,bind,ro "$d"
done
cd "$RO_CWD"
for d in /tmp /var/tmp .; do
	if touch "$d/.readonlytemp-check" 2>/dev/null; then
		rm -f "$d/.readonlytemp-check"
		echo "readonlytemp: $d is still writable" >&2
		exit 98
	fi
done
touch "$RO_DATA/.readonlytemp-check" || { echo "readonlytemp: the data directory is not writable" >&2; exit 97; }
rm "$RO_DATA/.readonlytemp-check"
unset TMPDIR SQLITE_TMPDIR RO_DATA RO_CWD
exec "$RO_PROGRAM" "$@"
`

// Script writes, in a directory of the test's own, a script that runs
// program with the script's arguments and environment in such a namespace,
// data being the writable directory, and returns its path. unshare and the
// shells exec, so the program's pid is the script's. The test is skipped
// where no mount namespace can be made (not root, no CAP_SYS_ADMIN, no
// unshare).
func Script(t testing.TB, data, program string) string {
	t.Helper()
	if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("this test needs a mount namespace of its own (unshare --mount, as root or with CAP_SYS_ADMIN): %v: %s", err, out)
	}
	dir := t.TempDir()
	cwd := filepath.Join(dir, "cwd")
	if err := os.Mkdir(cwd, 0o750); err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := filepath.Join(dir, "readonly-temp")
	body := "#!/bin/sh\nRO_DATA=" + quote(data) + " RO_CWD=" + quote(cwd) + " RO_PROGRAM=" + quote(program) +
		" exec unshare --mount --propagation private sh -c " + quote(inner) + " readonly-temp \"$@\"\n"
	if err := execfile.Write(script, []byte(body)); err != nil {
		t.Fatalf("write %s: %v", script, err)
	}
	return script
}
