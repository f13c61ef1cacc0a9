package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/readonlytemp"
)

// TestTheEmbeddedStoreAppendsLargeBatchesWithNoWritableTemporaryDirectory:
// in a container whose root file system is read-only (docker run
// --read-only, Kubernetes' readOnlyRootFilesystem) with a volume for the
// data directory only, SQLite found no directory to write its temporary
// files in (/var/tmp, /tmp, the working directory), and every append that
// made it spill one (a statement journal past 64 KiB: a batch of 300 small
// events, 50 of 40 KB) failed 503 "disk I/O error (6410)", forever, while
// /readyz said 200. The server runs here in a mount namespace of its own
// where those three are read-only and the data directory is not
// (readonlytemp); the appends must be written.
func TestTheEmbeddedStoreAppendsLargeBatchesWithNoWritableTemporaryDirectory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := launchBinary(t, readonlytemp.Script(t, data, apiBinary), "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+data)
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
