package sqlstore

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAPagesPositionsAreReadAloneWhereCommitsAreVisibleInOrder: a read of
// a page of the log first reads its events' positions, and read their
// recorded_at with them, which only the check for commits not yet visible
// needs (MySQL). On SQLite, recorded_at lies after data in the row, and
// reading it walked each event's overflow pages: 65 to 86 ms for a page of
// events of 500 KB with 100 MB after its start (MySQL: 0.5 to 4 ms), a
// connection of the read pool held that long by every page a subscriber
// catching up read. Where commits are visible in order, the positions are
// read alone, whatever the filter.
func TestAPagesPositionsAreReadAloneWhereCommitsAreVisibleInOrder(t *testing.T) {
	for _, tc := range []struct {
		checkVisible bool
		want         string
	}{{false, "position"}, {true, positionColumns}} {
		r := reader{checkVisible: tc.checkVisible, typePairIndex: IndexedByTypePair}
		for _, opts := range []eventstore.ReadAllOptions{
			{After: 1},
			{StreamTypes: []string{"a"}},
			{StreamTypes: []string{"a", "b"}, EventTypes: []string{"c"}},
			{StreamID: uuid.New()},
		} {
			q, _ := r.pageQuery(r.positionCols(), opts, 10)
			if !strings.HasPrefix(q, "SELECT "+tc.want+" FROM ") {
				t.Errorf("checkVisible %t, filter %+v: the positions are read with %q; want only %q", tc.checkVisible, opts, q, tc.want)
			}
		}
	}
}
