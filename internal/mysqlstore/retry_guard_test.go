package mysqlstore_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheGuardIsNotFooledByAClientRetryingALostEvent: the database loses
// the writer's last two commits (the case the guard is for), and a client
// retries the lost append at the head with the id it chose (the documented
// way to retry), through another process, after some other append. The head
// is then back at the same number, on the same event id, yet a stream in the
// writer's snapshot (x) is not where the snapshot says. Event ids are the
// clients': an id at the head does not prove this writer put it there; the
// guard checked the event's id until a review found this, and now checks a
// random id each commit leaves on log_head.
func TestTheGuardIsNotFooledByAClientRetryingALostEvent(t *testing.T) {
	ctx, dsn := guardedTest(t)
	a, am := openCounted(t, dsn)
	b, _ := openCounted(t, dsn)
	x, y, z := uuid.New(), uuid.New(), uuid.New()
	if _, err := appendOne(ctx, a, x, eventstore.NoStream); err != nil { // position 1, x at 1
		t.Fatal(err)
	}
	if _, err := appendOne(ctx, a, y, eventstore.NoStream); err != nil { // position 2, y at 1
		t.Fatal(err)
	}
	db := otherProcessDB(t, dsn)
	var commit []byte // what log_head holds at position 2, which the loss brings back
	if err := db.QueryRowContext(ctx, "SELECT commit_id FROM log_head WHERE id = 1").Scan(&commit); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOne(ctx, a, x, eventstore.Exactly(1)); err != nil { // position 3, x at 2
		t.Fatal(err)
	}
	ey := uuid.New()
	if _, err := appendOne(ctx, a, y, eventstore.Exactly(1), ey); err != nil { // position 4, y at 2
		t.Fatal(err)
	}
	// the database loses positions 3 and 4
	loseCommitsAfter(ctx, t, db, 2, commit)
	if _, err := appendOne(ctx, b, z, eventstore.NoStream); err != nil { // position 3
		t.Fatal(err)
	}
	if _, err := appendOne(ctx, b, y, eventstore.Exactly(1), ey); err != nil { // the retry: position 4, on ey
		t.Fatal(err)
	}
	guards := teststore.Statements(t, am, "guard_head")
	res, err := appendOne(ctx, a, x, eventstore.Exactly(2)) // x is at 1
	var wrong *eventstore.WrongExpectedVersionError
	if !errors.As(err, &wrong) || wrong.Current != 1 {
		t.Errorf("append expecting version 2 of a stream at version 1: %+v, %v; want a wrong expected version, current 1", res, err)
	}
	if teststore.Statements(t, am, "guard_head") != guards+1 {
		t.Errorf("expected the append to try the one-round-trip way first")
	}
	sp, err := a.ReadStream(ctx, x, eventstore.ReadStreamOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	v := int64(0)
	for e, err := range sp.Events {
		if err != nil {
			t.Fatal(err)
		}
		if v++; e.Version != v {
			t.Errorf("stream x holds version %d after %d", e.Version, v-1)
			v = e.Version
		}
	}
}
