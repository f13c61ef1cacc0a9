package mysqlstore_test

import (
	"context"
	"testing"

	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTakeQueuedTakesTheAppendsAsTheNextGroupInTheOrderTheyCame: see
// teststore.TakeQueuedGoesAsTheNextGroupInOrder.
func TestTakeQueuedTakesTheAppendsAsTheNextGroupInTheOrderTheyCame(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	teststore.TakeQueuedGoesAsTheNextGroupInOrder(ctx, t, s, s.SetBeforeCommit)
}

// waitQueued waits until n appends to s, handed to its writer while a
// hook of the test holds it (busy with the group before), are taken for
// its next group (TakeQueued): they go as that group, in the order they
// came. A sleep let them queue under a light load only, and a count of
// the goroutines on their way to the hand-off counted one before it got
// there; a test that released the writer then ran them in other groups
// than it meant to. ctx's end, a safety bound, ends a wait that never
// comes.
func waitQueued(ctx context.Context, t *testing.T, s *mysqlstore.Store, n int) {
	t.Helper()
	if err := awaitQueued(ctx, s, n); err != nil {
		t.Fatal(err)
	}
}

// awaitQueued is waitQueued for a goroutine other than the test's (a hook
// the writer runs): it returns what failed rather than end the test.
func awaitQueued(ctx context.Context, s *mysqlstore.Store, n int) error {
	return s.TakeQueued(ctx, n)
}
