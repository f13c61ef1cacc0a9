package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestOneClientServesManyGoroutinesAtOnce: one Client, as its doc says, is
// safe for concurrent use: goroutines append to their own streams, read
// them back, subscribe to them, and Close it between, all at
// once, under the race detector; every call gets its own answer. Against
// the real handler, on both stores.
func TestOneClientServesManyGoroutinesAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		c := clientOfTributary(t, k)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				id := uuid.New()
				for v := range 5 {
					if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, Exactly(int64(v)), NewEvent{Type: "A", Data: v}); err != nil {
						t.Errorf("goroutine %d: append at version %d: %v", g, v, err)
						return
					}
					if g%2 == 0 {
						c.Close() //nolint:errcheck // it returns nil
					}
				}
				var versions []int64
				for e, err := range c.ReadStream(ctx, id, ReadStreamOptions{PageSize: 2}) {
					if err != nil {
						t.Errorf("goroutine %d: read: %v", g, err)
						return
					}
					versions = append(versions, e.Version)
				}
				if len(versions) != 5 {
					t.Errorf("goroutine %d: read versions %v; expected 1 to 5", g, versions)
				}
				n := 0
				for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamID: id}) {
					if err != nil {
						t.Errorf("goroutine %d: subscribe after %d events: %v", g, n, err)
						return
					}
					if m.CaughtUp {
						break
					}
					n++
				}
				if n != 5 {
					t.Errorf("goroutine %d: subscription delivered %d events before catching up; expected 5", g, n)
				}
			})
		}
		wg.Wait()
	})
}
