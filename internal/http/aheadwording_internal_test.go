package http

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAStartAheadSaysStartingPointNotId: the 409 of a starting point past
// a stream's version or the log's head said "The id may come from another
// or a restored database" where the client sent no id (from=, after=), and
// told a client of a stream at version 0 to subscribe again "from a
// version the stream has", of which it has none. It names the starting
// point, and the highest one the stream or the log takes; on an empty log
// only after=0, not "after=0 or lower (after=0 for all of it)", as an
// apiuser found (0 is the lowest, and the two halves said one thing).
func TestAStartAheadSaysStartingPointNotId(t *testing.T) {
	id := uuid.New()
	for _, c := range []struct {
		what, detail string
		want         []string
	}{
		{"from=9 on a stream at 7", streamAhead(id, 8, 7, 9, "from=9").detail, []string{"starting point", "from=8 or lower"}},
		{"from=3 on a stream at 0", streamAhead(id, 2, 0, 3, "from=3").detail, []string{"starting point", "from=1"}},
		{"Last-Event-ID 9 on a stream at 7", streamAhead(id, 9, 7, 9, "Last-Event-ID 9").detail, []string{"starting point", "from=8 or lower"}},
		{"after=9 on a log at 7", logAhead(9, 7, "after=9").detail, []string{"starting point", "after=7 or lower"}},
		{"after=5 on an empty log", logAhead(5, 0, "after=5").detail, []string{"starting point", "subscribe again after=0, for all of it."}},
	} {
		for _, want := range c.want {
			if !strings.Contains(c.detail, want) {
				t.Errorf("%s: %q; want it to say %q", c.what, c.detail, want)
			}
		}
		for _, not := range []string{"The id ", "a version the stream has", "after=0 or lower", "from=1 or lower"} {
			if strings.Contains(c.detail, not) {
				t.Errorf("%s: %q; want it not to say %q", c.what, c.detail, not)
			}
		}
	}
}
