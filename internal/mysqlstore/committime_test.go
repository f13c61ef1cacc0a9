package mysqlstore_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAGroupInOneRoundTripWhoseTimeCannotBeReadBackAfterItsWritesIsSettled:
// a group sent in one round trip with the head's UPDATE as its guard
// (MariaDB) reads back the time it stamped after its writes, and COMMIT
// runs after that on the server whatever the client makes of the answer.
// A time that could not be read (here NULL: a trigger of the operator's
// clears the session variable after the events' INSERT) failed the append
// as a plain error, a 500 "internal error", for a group the server then
// committed. Whatever leaves the writer not knowing once COMMIT was sent is
// settled: the group is found committed, and answered as written, with the
// time its events hold.
func TestAGroupInOneRoundTripWhoseTimeCannotBeReadBackAfterItsWritesIsSettled(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, m := openCounted(t, dsn)
	if !s.MariaDB() {
		t.Skip("not MariaDB: the time is read back after the writes only where the head's UPDATE is the guard")
	}
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx,
		"CREATE TRIGGER events_clear_now AFTER INSERT ON events FOR EACH ROW SET @tributary_now = NULL"); err != nil {
		t.Fatal(err)
	}
	guards, settled := teststore.Statements(t, m, "guard_head"), teststore.Statements(t, m, "settle_find_events")
	res, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if teststore.Statements(t, m, "guard_head") == guards {
		t.Fatalf("the append did not go in one round trip (%+v, %v): the test did not reach the case it is for", res, err)
	}
	st, serr := s.Stream(ctx, stream)
	if serr != nil || st.Version != 2 {
		t.Fatalf("the group did not commit (stream %+v, %v; append: %+v, %v): the test did not reach the case it is for", st, serr, res, err)
	}
	if err != nil || res.Version != 2 || len(res.Events) != 1 {
		t.Fatalf("a group committed whose time could not be read back: %+v, %v; want it answered as written, at version 2", res, err)
	}
	if n := teststore.Statements(t, m, "settle_find_events") - settled; n != 1 {
		t.Errorf("settle_find_events %d; want 1: settled", n)
	}
	stored, err := s.Event(ctx, stream, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Events[0].RecordedAt; got.IsZero() || !got.Equal(stored.RecordedAt) {
		t.Errorf("the answer's recorded_at %v; the log holds %v", got, stored.RecordedAt)
	}
}
