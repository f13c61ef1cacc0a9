package http

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAPinnedFrameIsCountedOnceEvenAfterTheCacheLetsItGo: the cache keeps
// the latest large frames, 16 MiB of them, and lets older ones go while
// writes still hold them pinned. A subscriber that came to such an event
// later (one that was slow) found no frame, encoded its own, and pinned that
// one too: the same event counted twice against the bound on what live
// writes hold (once per subscriber that came to it late: the bound then
// refused the live buffer's events to subscribers for frames that share one
// event's data, and a copy, of data not on one line, was held as many
// times). A frame that writes still hold stays the one every subscriber
// gets, until its last unpin.
func TestAPinnedFrameIsCountedOnceEvenAfterTheCacheLetsItGo(t *testing.T) {
	t.Parallel()
	for _, data := range map[string]string{
		"shared": `{"pad":"` + strings.Repeat("x", 300<<10) + `"}`,
		"copied": "{\n  \"pad\": \"" + strings.Repeat("x", 300<<10) + "\"\n}",
	} {
		s := New(nil, Options{})
		event := func(p int64) *eventstore.Event {
			return &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "t", Version: 1, Position: p,
				Type: "Big", Data: []byte(data), RecordedAt: time.Now().UTC()}
		}
		live := event(1)
		first := s.frames.frame(live)
		if !s.frames.pin(first) { // a stalled client's write holds it
			t.Fatal("the first pin was refused")
		}
		for p := int64(2); p < 80; p++ { // 23 MiB of frames after it: a catch-up read of large events
			s.frames.frame(event(p))
		}
		late := s.frames.frame(live) // a subscriber that comes to the live event now
		if !s.frames.pin(late) {
			t.Fatal("a second pin of the same event was refused")
		}
		if got := s.frames.pinnedBytes(); got != first.size {
			t.Errorf("two writes of one event pinned hold %d KiB of large frames; want the one frame, %d KiB", got>>10, first.size>>10)
		}
		s.frames.unpin(late)
		s.frames.unpin(first)
		if got := s.frames.pinnedBytes(); got != 0 {
			t.Errorf("every pin undone, %d bytes are still pinned", got)
		}
		// Unpinned and let go, it is not kept: the next asks encode it anew.
		if again := s.frames.frame(live); again == first {
			t.Error("a frame let go by the cache and no longer pinned is still in its slot")
		}
	}
}

// TestSubscribersThatEncodeALiveEventAtOnceShareOneFrame: the subscribers a
// commit wakes ask for the new event's frame at the same moment; each that
// found none encoded its own and put it in the slot over the others', and
// pinned its own: one event counted against the bound once per subscriber
// that raced. Those that lose the race now take the frame that won.
func TestSubscribersThatEncodeALiveEventAtOnceShareOneFrame(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	data := []byte(`{"pad":"` + strings.Repeat("x", 300<<10) + `"}`)
	for p := int64(1); p <= 20; p++ {
		e := &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "t", Version: 1, Position: p,
			Type: "Big", Data: data, RecordedAt: time.Now().UTC()}
		start := make(chan struct{})
		frames := make(chan *cachedEvent, 8)
		var wg sync.WaitGroup
		for range cap(frames) {
			wg.Go(func() {
				<-start
				f := s.frames.frame(e)
				s.frames.pin(f)
				frames <- f
			})
		}
		close(start)
		wg.Wait()
		close(frames)
		first := <-frames
		n := 1
		for f := range frames {
			if f != first {
				n++
			}
			s.frames.unpin(f)
		}
		s.frames.unpin(first)
		if n > 1 {
			t.Fatalf("of %d subscribers asking at once for the frame of the event at %d, %d got another than the first's; want one frame, shared", cap(frames), p, n-1)
		}
	}
}
