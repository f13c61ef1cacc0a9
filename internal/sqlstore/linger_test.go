package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// The writer's linger (writer.go): a group waits, briefly, for as many
// appends as the last groups took. These tests drive linger alone, on a
// writer with no database, feeding its calls channel by hand.

// patient is a linger long enough that a test whose appends must come
// while a group lingers does not depend on how soon a busy machine runs its
// goroutines.
const patient = 10 * time.Second // below txTimeout, which bounds every deadline

// lingerWriter is a writer whose last groups took sizes appends, just now.
func lingerWriter(sizes ...int) *writer {
	w := &writer{calls: make(chan *call), stop: make(chan struct{})}
	for _, n := range sizes {
		w.took(n)
	}
	return w
}

// oneEvent is a call of one event.
func oneEvent() *call {
	return &call{ctx: context.Background(), req: eventstore.AppendRequest{Events: []eventstore.NewEvent{{Type: "T", Data: []byte(`{}`)}}}}
}

// lingerAsync runs linger on group and returns what it returns.
func lingerAsync(w *writer, group []*call) <-chan []*call {
	got := make(chan []*call, 1)
	go func() { got <- w.linger(group) }()
	return got
}

// TestAGroupLingersForAsManyAppendsAsTheLastGroupsTook: the last groups took
// four appends; a group of one takes the next three as they come, one at a
// time, and goes as soon as it has four, without waiting out lingerMax.
func TestAGroupLingersForAsManyAppendsAsTheLastGroupsTook(t *testing.T) {
	t.Parallel()
	w := lingerWriter(2, 4, 3)
	w.lingerFor = patient
	got := lingerAsync(w, []*call{oneEvent()})
	for range 3 {
		select {
		case w.calls <- oneEvent():
		case g := <-got:
			t.Fatalf("the group went with %d appends; want it to wait for 4", len(g))
		}
	}
	if g := <-got; len(g) != 4 {
		t.Fatalf("the group went with %d appends; want 4", len(g))
	}
	// It took no more than it expected: a fifth append is left for the next group.
	select {
	case w.calls <- oneEvent():
		t.Fatal("linger took an append after the group was complete")
	case <-time.After(2 * lingerMax):
	}
}

// TestAGroupGoesAtOnceWhenItHasWhatTheLastGroupsTook: one client's appends,
// one at a time, never wait; nor do appends that come at a steady rate the
// writer keeps up with, a group that already holds as many appends as the
// last ones, or one that holds the most events a group takes.
func TestAGroupGoesAtOnceWhenItHasWhatTheLastGroupsTook(t *testing.T) {
	t.Parallel()
	big := &call{ctx: context.Background(), req: eventstore.AppendRequest{Events: make([]eventstore.NewEvent, maxGroupEvents)}}
	slow := lingerWriter()
	for i := range recentGroups {
		// 2 appends every 10 ms: a steady rate the writer keeps up with
		slow.recent[i] = taken{time.Now().Add(-time.Duration(recentGroups-i) * 10 * time.Millisecond), 2}
	}
	for name, c := range map[string]struct {
		w     *writer
		group []*call
	}{
		"appends that come slowly": {slow, []*call{oneEvent()}},
		"one client":               {lingerWriter(1, 1, 1, 1, 1, 1, 1, 1), []*call{oneEvent()}},
		"a writer's first":         {lingerWriter(), []*call{oneEvent()}},
		"as many as before":        {lingerWriter(3, 2), []*call{oneEvent(), oneEvent(), oneEvent()}},
		"the most events":          {lingerWriter(5), []*call{big}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			select {
			case g := <-lingerAsync(c.w, c.group):
				if len(g) != len(c.group) {
					t.Fatalf("the group went with %d appends; want %d", len(g), len(c.group))
				}
			case c.w.calls <- oneEvent():
				t.Fatal("the group waited for another append")
			}
		})
	}
}

// TestAGroupWhoseAppendsDoNotComeGoesAfterLingerMax: the last groups took
// four, but the load dropped: the group goes with what came once lingerMax
// has passed. Once recentGroups groups have taken fewer, a group expects no
// more than they took, and no longer waits.
func TestAGroupWhoseAppendsDoNotComeGoesAfterLingerMax(t *testing.T) {
	t.Parallel()
	w := lingerWriter(4, 4, 4, 4, 4, 4, 4, 4)
	start := time.Now()
	got := lingerAsync(w, []*call{oneEvent()})
	var g []*call
	select {
	case w.calls <- oneEvent():
		g = <-got
	case g = <-got:
	}
	if len(g) != 2 {
		t.Fatalf("the group went with %d appends; want the 2 that came", len(g))
	}
	if took := time.Since(start); took < lingerMax {
		t.Fatalf("the group went after %v; want it to wait lingerMax (%v) for the others", took, lingerMax)
	}
	for range recentGroups {
		w.took(2)
	}
	select {
	case g := <-lingerAsync(w, []*call{oneEvent(), oneEvent()}):
		if len(g) != 2 {
			t.Fatalf("the group went with %d appends; want 2", len(g))
		}
	case w.calls <- oneEvent():
		t.Fatal("after groups of two, a group of two waited for another append")
	}
}

// TestAGroupStopsLingeringWhenTheWriterStops: shutdown does not wait out a
// linger.
func TestAGroupStopsLingeringWhenTheWriterStops(t *testing.T) {
	t.Parallel()
	w := lingerWriter(4)
	got := lingerAsync(w, []*call{oneEvent()})
	close(w.stop)
	if g := <-got; len(g) != 1 {
		t.Fatalf("the group went with %d appends; want the 1 it had", len(g))
	}
}

// TestAGroupDoesNotLingerIntoItsCallersLastMoment: a group does not wait
// for more appends into the last lingerMax (about one commit's time) before
// the earliest deadline of its callers, whether the group's first caller
// has that deadline or one that came while it lingered: waiting it out
// turns an append that could have been written into one that fails "before
// it could be written", answered past its deadline. (From a review: linger
// waited out lingerMax whatever its callers' deadlines.)
func TestAGroupDoesNotLingerIntoItsCallersLastMoment(t *testing.T) {
	t.Parallel()
	// The writer lingers patiently; a caller's deadline is half that away,
	// so inside the last linger before it: the group must go at once.
	soon := func() (*call, time.Time) {
		ctx, cancel := context.WithTimeout(context.Background(), patient/2)
		t.Cleanup(cancel)
		c := oneEvent()
		c.ctx = ctx
		deadline, _ := ctx.Deadline()
		return c, deadline
	}
	// went waits for the group, failing if linger takes another append
	// (or has not returned after a while): it lingered into the deadline.
	went := func(t *testing.T, w *writer, got <-chan []*call, deadline time.Time) []*call {
		t.Helper()
		select {
		case g := <-got:
			return g
		case w.calls <- oneEvent():
			t.Fatalf("the group took another append with its caller's deadline %v away, inside the last linger (%v)", time.Until(deadline).Round(time.Second), patient)
		case <-time.After(patient / 4):
			t.Fatalf("the group had not gone after %v with its caller's deadline inside the last linger (%v)", patient/4, patient)
		}
		return nil
	}
	t.Run("the first caller's", func(t *testing.T) {
		t.Parallel()
		w := lingerWriter(4, 4, 4, 4)
		w.lingerFor = patient
		c, deadline := soon()
		if g := went(t, w, lingerAsync(w, []*call{c}), deadline); len(g) != 1 {
			t.Fatalf("the group went with %d appends; want the 1 it had", len(g))
		}
	})
	t.Run("a caller's that came", func(t *testing.T) {
		t.Parallel()
		w := lingerWriter(4, 4, 4, 4)
		w.lingerFor = patient
		first := oneEvent()
		first.ctx = context.Background()
		got := lingerAsync(w, []*call{first})
		c, deadline := soon()
		select {
		case w.calls <- c:
		case g := <-got:
			t.Fatalf("the group of %d went before the second append came", len(g))
		}
		if g := went(t, w, got, deadline); len(g) != 2 {
			t.Fatalf("the group went with %d appends; want the 2 it had", len(g))
		}
	})
}
