package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestALogPageIsNotFailedByDamageJustPastIt: a page of the log reads one
// row past its end, to tell whether more follow, and that row was checked
// as the page's own: with the event just past the page damaged (its
// checksum, or past a log head behind its events), `GET /events?limit=1`
// failed 503 though the event it answers is sound, and the same event's
// stream page answered it. The row past the page only says that more
// follow: the page is answered whole, and the next page meets the damage.
// Both ways a page is read (in one query, and by its positions first), on
// both databases (a checksum on the embedded store's alone).
func TestALogPageIsNotFailedByDamageJustPastIt(t *testing.T) {
	t.Parallel()
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const events = minFirstChunkRows + 2
			writeStream(ctx, t, db, uuid.New(), events)
			// A page of 1 is read in one query; one of more than the first
			// chunk's rows by its positions first.
			for _, limit := range []int{1, minFirstChunkRows + 1} {
				damaged := int64(limit + 1)
				hows := []string{"log head behind"}
				if name == "sqlite" {
					hows = append(hows, "checksum") // the embedded store's alone
				}
				for _, how := range hows {
					r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes)}
					head := int64(events)
					if how == "checksum" {
						r.check = func(e eventstore.Event, _ sql.NullInt64) error {
							if e.Position == damaged {
								return fmt.Errorf("event at position %d: %w", e.Position, eventstore.ErrDamaged)
							}
							return nil
						}
					} else {
						head = damaged - 1
					}
					if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", head); err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("a page of %d, the event past it damaged (%s)", limit, how)
					page, err := r.ReadAll(ctx, eventstore.ReadAllOptions{Limit: limit})
					if err != nil {
						t.Fatalf("%s: %v; want its %d sound events", what, err, limit)
					}
					var got []int64
					for e, err := range page.Events {
						if err != nil {
							t.Fatalf("%s: an event: %v; want its %d sound events", what, err, limit)
						}
						got = append(got, e.Position)
					}
					if len(got) != limit || got[0] != 1 || got[len(got)-1] != int64(limit) || !page.More || page.Last != int64(limit) {
						t.Fatalf("%s: positions %v, more %v, last %d; want 1 to %d, more following", what, got, page.More, page.Last, limit)
					}
					next, err := r.ReadAll(ctx, eventstore.ReadAllOptions{After: page.Last, Limit: limit})
					if err == nil {
						for _, e := range next.Events {
							if e != nil {
								err = e
								break
							}
						}
					}
					if !errors.Is(err, eventstore.ErrDamaged) {
						t.Errorf("%s: the next page: %v; want it to meet the damage", what, err)
					}
				}
			}
		})
	}
}
