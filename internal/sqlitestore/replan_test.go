package sqlitestore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAFilteredReadAfterAnIndexIsMadeRightAgainIsNoInternalError: a reading
// connection plans against its cached schema, and a plan that fails there
// reloads nothing: once an index of the store's, made partial while the
// server ran, was made right again, the first filtered read on a connection
// that planned against the partial one failed with SQLite's "no query
// solution", a 500, unless something (Ping) had read the schema there
// first. Each read now passes, with no Ping between.
func TestAFilteredReadAfterAnIndexIsMadeRightAgainIsNoInternalError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 2, 10)
	read := eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Happened", "Other"}}
	for _, q := range []string{"DROP INDEX events_event_type_position",
		"CREATE INDEX events_event_type_position ON events (event_type, position) WHERE position > 100"} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// Every reading connection plans against the partial index: reads at
	// once, as many as the pool holds and more, each failing.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { s.ReadAll(ctx, read) }) //nolint:errcheck // each fails: the index is partial
	}
	wg.Wait()
	for _, q := range []string{"DROP INDEX events_event_type_position",
		"CREATE INDEX events_event_type_position ON events (event_type, position)"} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			page, err := s.ReadAll(ctx, read)
			if err == nil {
				for _, err = range page.Events {
					if err != nil {
						break
					}
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a filtered read once the index is made right, no Ping between: %v; want it to pass", err)
		}
	}
}
