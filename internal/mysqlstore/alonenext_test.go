package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnAppendRunAloneAfterItsGroupFailedDoesNotWaitForTheNextGroupsLock:
// a group whose try failed with an error of one request's (here a trigger
// refusing its event) is run again one request at a time. The first of
// those runs alone committed in the round trip that also began the next
// group's transaction (the appends queued meanwhile), whose reads take the
// log's lock: the next run alone then waited for that lock, which only the
// writer itself, once done with the failed group, would give up. It waited
// out its caller's time and was told the database did not answer, instead
// of the trigger's error at once. (The embedded store begins no group's
// transaction in another's round trip: it cannot meet this.)
func TestAnAppendRunAloneAfterItsGroupFailedDoesNotWaitForTheNextGroupsLock(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	if _, err := db.ExecContext(ctx, "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW "+
		"IF NEW.event_type = 'Poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison refused'; END IF"); err != nil {
		t.Fatal(err)
	}
	appendTo := func(ctx context.Context, typ string, out chan<- error) {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: typ, Data: []byte(`{}`)}}})
		out <- err
	}
	first, good, poison, next := make(chan error, 1), make(chan error, 1), make(chan error, 1), make(chan error, 1)
	held, hold := make(chan struct{}), make(chan struct{})
	n := 0 // the writer's transactions, counted on its goroutine
	s.SetBeforeCommit(func() {
		switch n++; n {
		case 1: // the first append holds the writer while the two queue
			close(held)
			<-hold
		case 3: // the good one alone, after the group of the two failed
			go appendTo(ctx, "Happened", next)
			if err := awaitQueued(ctx, s, 1); err != nil { // it queues
				t.Error(err)
			}
		}
	})
	go appendTo(ctx, "Happened", first)
	<-held
	go appendTo(ctx, "Happened", good)
	waitQueued(ctx, t, s, 1) // queued first, so run alone first
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	go appendTo(pctx, "Poison", poison)
	waitQueued(ctx, t, s, 2) // both queued behind the first
	close(hold)
	if err := <-first; err != nil {
		t.Fatalf("the first append: %v", err)
	}
	if err := <-good; err != nil {
		t.Errorf("the good append, grouped with one the trigger refuses: %v; want it written", err)
	}
	if err := <-poison; err == nil || errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("the append whose event the trigger refuses, run alone after its group failed: %v; "+
			"want the trigger's error, not unavailable (it waited for the log's lock the next group's reads held)", err)
	}
	if err := <-next; err != nil {
		t.Errorf("the append queued while the group was run one at a time: %v; want it written", err)
	}
	if n < 3 {
		t.Fatalf("the writer ran %d transactions; want the first, the group and the good append alone at least", n)
	}
}
