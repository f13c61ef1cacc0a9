package storetest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// Bound makes s refuse large events, as a smaller database would (a
// server's max_allowed_packet, SQLite's largest row), or reads how large an
// event s takes, and returns n: an event whose data and metadata hold n
// bytes together can never be written by s, and one of n/4 bytes can.
type Bound func(t *testing.T, s eventstore.Store) (n int)

// ExerciseTooLarge states once what every store does with an append too
// large for the database beneath it: it is eventstore.ErrTooLarge (a 413),
// not an outage or an internal error, on every try, since retrying it as
// it is can never succeed; it writes nothing, not even the events of its
// batch that fit; in a group it fails alone; and the store serves on. The
// store's tests call it with b and a Bound of their own; b needs Open and
// BeforeCommit.
func ExerciseTooLarge(t *testing.T, b Backend, bound Bound) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Backend, Bound)
	}{
		{"AnAppendTooLargeIsRefusedAsSuchOnEveryTryAndWritesNothing", testTooLarge},
		{"AnAppendTooLargeFailsAloneInItsGroup", testTooLargeInAGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b, bound)
		})
	}
}

// jsonOf is a JSON string of n bytes in all.
func jsonOf(n int) []byte {
	return []byte(`"` + strings.Repeat("a", n-2) + `"`)
}

// metadataOf is a JSON object of n bytes in all.
func metadataOf(n int) []byte {
	return []byte(`{"m":"` + strings.Repeat("m", n-8) + `"}`)
}

func testTooLarge(t *testing.T, b Backend, bound Bound) {
	s := b.Open(t)
	n := bound(t, s)
	before := mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: batch(1)})
	head := before.Events[0].Position
	for _, tc := range []struct {
		name  string
		event eventstore.NewEvent
	}{
		{"its data", eventstore.NewEvent{Type: "Big", Data: jsonOf(n)}},
		{"its metadata", eventstore.NewEvent{Type: "Big", Data: []byte(`{}`), Metadata: metadataOf(n)}},
		// Each within the bound, past it together.
		{"its data and metadata together", eventstore.NewEvent{Type: "Big", Data: jsonOf(n * 3 / 5), Metadata: metadataOf(n * 3 / 5)}},
	} {
		// Events that fit go first in the batch: the whole batch is
		// refused, none of it written.
		req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Expected: eventstore.NoStream,
			Events: append(withIDs(batch(2)), tc.event)}
		for try := 1; try <= 2; try++ { // a client retrying it as it is
			_, err := s.Append(ctx(t), req)
			if !errors.Is(err, eventstore.ErrTooLarge) || errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("an append past the store's bound of %d bytes by %s, try %d: err = %v, want ErrTooLarge and not ErrUnavailable",
					n, tc.name, try, err)
			}
		}
		if _, err := s.Stream(ctx(t), req.StreamID); !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Errorf("after an append too large by %s: reading its stream: %v, want ErrStreamNotFound (nothing written)", tc.name, err)
		}
	}
	requireLogLength(t, s, int(head), "after appends too large")
	// The store serves on: an event well within the bound, and a small one.
	for _, data := range [][]byte{jsonOf(n / 4), []byte(`{}`)} {
		res := mustAppend(t, s, eventstore.AppendRequest{StreamID: uuid.New(), Events: []eventstore.NewEvent{{Type: "Fits", Data: data}}})
		if got := res.Events[0].Position; got != head+1 {
			t.Errorf("an append of %d bytes after the refused ones is at position %d, want %d: the next after %d", len(data), got, head+1, head)
		}
		head++
	}
}

// testTooLargeInAGroup queues four appends that fit and one too large
// behind a held commit, so that they go as the next group together, and
// proves that they did: none of them is answered before the second commit
// after the held one begins. That is the group's own, or, where the
// group's transaction failed, that of the first of its requests retried
// one at a time (each answered as soon as it is written). Appends that went
// one by one, each in a group of its own, would be answered one per commit,
// and the second commit would find the first answered; then the test would
// prove nothing about a group.
func testTooLargeInAGroup(t *testing.T, b Backend, bound Bound) {
	s := b.Open(t)
	n := bound(t, s)
	small := func() eventstore.AppendRequest {
		return eventstore.AppendRequest{StreamID: uuid.New(), Expected: eventstore.NoStream, StreamType: "small", Events: batch(1)}
	}
	// The first commit waits for release; each later one, once the
	// appends that fit have been released, waits a little for one of
	// them to be answered (at the second there is none if they went as one
	// group), and records how many were.
	var (
		held, release = make(chan struct{}), make(chan struct{})
		answered      atomic.Int32 // appends that fit, answered
		firstAnswer   = make(chan struct{})
		answerOnce    sync.Once
		mu            sync.Mutex
		commits       int   // commits begun, the held one included
		seen          []int // answered, at each commit after the held one
	)
	b.BeforeCommit(s, func() {
		mu.Lock()
		commits++
		first := commits == 1
		mu.Unlock()
		if first {
			close(held)
			<-release
			return
		}
		select {
		case <-firstAnswer:
		case <-time.After(50 * time.Millisecond):
		}
		mu.Lock()
		seen = append(seen, int(answered.Load()))
		mu.Unlock()
	})
	first := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx(t), small())
		first <- err
	}()
	select {
	case <-held:
	case err := <-first:
		t.Fatalf("the first append ended (%v) before its commit was held", err)
	}
	// Four appends that fit and one too large queue behind the held
	// commit, to go as one group once it is released.
	const big = 2
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		req := small()
		if i == big {
			req.Events = []eventstore.NewEvent{{Type: "Big", Data: jsonOf(n)}}
		}
		wg.Go(func() {
			_, errs[i] = s.Append(ctx(t), req)
			if i != big {
				answered.Add(1)
				answerOnce.Do(func() { close(firstAnswer) })
			}
		})
	}
	// Let them queue: 100 ms was not always enough for five goroutines
	// to reach the writer on a busy machine (CI, beside other test runs).
	time.Sleep(500 * time.Millisecond)
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("the held append: %v", err)
	}
	for i, err := range errs {
		switch {
		case i == big && (!errors.Is(err, eventstore.ErrTooLarge) || errors.Is(err, eventstore.ErrUnavailable)):
			t.Errorf("the append too large, in a group: err = %v, want ErrTooLarge and not ErrUnavailable", err)
		case i != big && err != nil:
			t.Errorf("an append of one small event, in a group with one too large: %v; want it written", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Errorf("no commit after the held one: the appends that fit were not written")
	}
	if len(seen) > 1 && seen[1] != 0 {
		t.Errorf("the second commit after the held one began with %d of the appends that fit already answered (at each commit: %v), want none: "+
			"they did not go as one group, so the test proves nothing about an append too large in a group", seen[1], seen)
	}
	requireLogLength(t, s, 5, "after a group of four appends that fit and one too large, behind one held")
}
