// Package execfile writes files that a test then runs.
//
// A test process that writes an executable with os.WriteFile and runs it
// at once can fail with "text file busy" (ETXTBSY): while the file is open
// for writing, another goroutine of the same process may fork a child (a
// parallel test starting a server), and the child holds a copy of the
// write descriptor until it execs. Linux refuses to run a file that any
// process has open for writing. Write never opens the file in the calling
// process: a short-lived shell writes it, so no fork of the test process
// can inherit the descriptor.
package execfile

import (
	"bytes"
	"fmt"
	"os/exec"
)

// Write creates (or replaces) the file at path with data, mode 0755.
func Write(path string, data []byte) error {
	cmd := exec.Command("sh", "-c", `umask 022 && cat > "$0" && chmod 755 "$0"`, path)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("write executable %s: %w: %s", path, err, bytes.TrimSpace(out))
	}
	return nil
}
