package teststore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// QueueTaker is a store of either kind, with its writer's hand-off for
// tests (sqlstore.Store.TakeQueued, Taken).
type QueueTaker interface {
	eventstore.Store
	TakeQueued(ctx context.Context, n int) error
	Taken() int
}

// TakeQueuedGoesAsTheNextGroupInOrder checks the hand-off the tests that
// need appends to go as one group, in a given order, rely on: they hold
// the writer (setBeforeCommit, the store's hook before each COMMIT) and
// take the appends queued behind it (TakeQueued). They once waited on a
// count of the goroutines on their way to the hand-off, which counted one
// before it got there: released then, the writer took the others without
// it, in another group or after one made later. Appends taken one by one
// must go as the next group, in the order taken, and the writer's count of
// appends taken (Taken) must say so.
func TakeQueuedGoesAsTheNextGroupInOrder(ctx context.Context, t *testing.T, s QueueTaker, setBeforeCommit func(func())) {
	t.Helper()
	held, hold := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	defer release() // before the store closes, should the test end early
	var once sync.Once
	var commits atomic.Int32 // the writer's COMMITs, each a group's
	setBeforeCommit(func() {
		commits.Add(1)
		once.Do(func() { close(held); <-hold })
	})
	type answer struct {
		res eventstore.AppendResult
		err error
	}
	appendNew := func(out chan<- answer) {
		res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
		out <- answer{res, err}
	}
	const behind = 3
	first := make(chan answer, 1)
	before := s.Taken()
	go appendNew(first)
	<-held
	if got := s.Taken() - before; got != 1 {
		t.Errorf("with one append held before its COMMIT: Taken() moved by %d; want 1", got)
	}
	answers := make([]chan answer, behind)
	for i := range behind {
		answers[i] = make(chan answer, 1)
		go appendNew(answers[i])
		if err := s.TakeQueued(ctx, i+1); err != nil { // taken before the next is made: the order they go in
			t.Fatal(err)
		}
	}
	if got := s.Taken() - before; got != 1 {
		t.Errorf("with %d appends taken by the test behind the held one: Taken() moved by %d; want 1 (they are in no group yet)", behind, got)
	}
	release()
	if a := <-first; a.err != nil {
		t.Fatalf("the held append: %v", a.err)
	}
	var positions []int64
	for i := range behind {
		a := <-answers[i]
		if a.err != nil {
			t.Fatalf("append %d taken behind the held one: %v", i+1, a.err)
		}
		positions = append(positions, a.res.Events[0].Position)
	}
	for i := 1; i < behind; i++ {
		if positions[i] != positions[i-1]+1 {
			t.Errorf("the appends taken one after the other were written at positions %v; want consecutive, in the order taken", positions)
			break
		}
	}
	if n := commits.Load(); n != 2 {
		t.Errorf("the writer committed %d groups; want 2: the held one, and the %d taken behind it as one", n, behind)
	}
	if got := s.Taken() - before; got != behind+1 {
		t.Errorf("once every append was answered: Taken() moved by %d; want %d", got, behind+1)
	}
}
