package sqlitestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAStartKeepsAWALThatALeftOverCopyIsAnotherNameOf: a start that cannot
// copy the WAL keeps it by a second name, tributary.db-wal.start; a start
// killed before it served or was refused leaves that name behind. The next
// start truncated the copy it found before writing it anew, and so, through
// the other name, the WAL itself: every commit in it lost. It must keep
// the WAL as it is and serve every commit.
func TestAStartKeepsAWALThatALeftOverCopyIsAnotherNameOf(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, t.TempDir())
	for range 5 {
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir := crashImage(t, s)
	wal := filepath.Join(dir, sqlitestore.FileName+"-wal")
	if err := os.Link(wal, wal+".start"); err != nil {
		t.Fatal(err)
	}
	restarted, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a crash, a start's copy of the WAL left as a second name of it: %v; expected it to serve", err)
	}
	defer restarted.Close()
	if got, err := restarted.Head(t.Context()); err != nil || got != head {
		t.Errorf("the head after the start: %d, %v; expected the crashed run's %d", got, err, head)
	}
}
