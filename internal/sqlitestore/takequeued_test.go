package sqlitestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTakeQueuedTakesTheAppendsAsTheNextGroupInTheOrderTheyCame: see
// teststore.TakeQueuedGoesAsTheNextGroupInOrder.
func TestTakeQueuedTakesTheAppendsAsTheNextGroupInTheOrderTheyCame(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety bound
	defer cancel()
	s := teststore.OpenSQLite(t, t.TempDir())
	teststore.TakeQueuedGoesAsTheNextGroupInOrder(ctx, t, s, s.SetBeforeCommit)
}
